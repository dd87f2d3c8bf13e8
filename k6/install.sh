#!/usr/bin/env bash
# Builds k6 from the Go module proxy into .tools/bin (gitignored), once (the version is pinned in scripts/tools.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/tools.sh k6
