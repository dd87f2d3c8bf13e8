#!/usr/bin/env bash
# Builds k6 from the Go module proxy into .tools/bin (gitignored), once.
set -euo pipefail
cd "$(dirname "$0")/.."
K6_VERSION=${K6_VERSION:-v1.4.2}
if [ -x .tools/bin/k6 ] && .tools/bin/k6 version 2>/dev/null | grep -q "${K6_VERSION#v}"; then exit 0; fi
command -v go >/dev/null || { echo "k6/install.sh: Go is needed to build k6" >&2; exit 1; }
mkdir -p .tools/bin
echo "building k6 $K6_VERSION from the Go module proxy (a few minutes the first time)" >&2
GOBIN="$PWD/.tools/bin" go install "go.k6.io/k6@$K6_VERSION"
