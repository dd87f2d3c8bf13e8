#!/usr/bin/env bash
# Builds the Go tools the tests and benchmarks use into .tools/bin (gitignored), from the Go module proxy, once:
#   bash scripts/tools.sh grpcurl ghz k6 loadgen
# and installs Debian's packages of the servers tests start themselves (prometheus: promtool and the server), once.
set -euo pipefail
cd "$(dirname "$0")/.."
declare -A MODULES=(
  [grpcurl]=github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.3
  [ghz]=github.com/bojand/ghz/cmd/ghz@v0.121.0
  [k6]=go.k6.io/k6@v1.4.2
  [kustomize]=sigs.k8s.io/kustomize/kustomize/v5@v5.7.1
)
# Tools of this repository, built from their sources here (dependencies pinned in their go.sum, from the proxy).
declare -A LOCAL=(
  [loadgen]=bench/loadgen
  [manifest-check]=manifests/check
  [jaeger]=scripts/jaeger
)
# The package a local tool builds when it is not the module's root (a module that only pins a program's version).
declare -A PACKAGE=(
  [jaeger]=github.com/jaegertracing/jaeger/cmd/jaeger
)
# Debian packages: the command that shows one is installed.
declare -A APT=(
  [prometheus]=promtool
)
mkdir -p .tools/bin
for tool in "$@"; do
  if [ -n "${APT[$tool]:-}" ]; then
    command -v "${APT[$tool]}" >/dev/null && continue
    echo "installing $tool from Debian" >&2
    # No recommends, and no service started: tests start the server themselves, on a free loopback port.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$tool" >/dev/null ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$tool" >/dev/null; }
    continue
  fi
  if [ -n "${LOCAL[$tool]:-}" ]; then
    src=${LOCAL[$tool]}
    # Rebuilt when a source is newer than the binary.
    if [ -x ".tools/bin/$tool" ] && [ -z "$(find "$src" -newer ".tools/bin/$tool" -type f | head -1)" ]; then continue; fi
    command -v go >/dev/null || { echo "scripts/tools.sh: Go is needed to build $tool" >&2; exit 1; }
    echo "building $tool from $src" >&2
    # -mod=readonly: the committed go.mod/go.sum decide the versions (fetched from GOPROXY, proxy.golang.org by
    # default); a build never rewrites them.
    out="$PWD/.tools/bin/$tool"
    (cd "$src" && GOFLAGS="-mod=readonly -buildvcs=false" go build -o "$out" "${PACKAGE[$tool]:-.}")
    continue
  fi
  module=${MODULES[$tool]:?unknown tool $tool}
  [ -x ".tools/bin/$tool" ] && continue
  command -v go >/dev/null || { echo "scripts/tools.sh: Go is needed to build $tool" >&2; exit 1; }
  echo "building $tool from the Go module proxy ($module)" >&2
  GOBIN="$PWD/.tools/bin" go install "$module"
done
