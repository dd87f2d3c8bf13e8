#!/usr/bin/env bash
# The fault-injection suite (`npm run test:faults`, run by .ci/run after npm test): starts its own Redis and CQL
# server (state in .services-faults, so the outages it causes on purpose never reach another run's servers), runs
# api/e2e/*.faults.test.ts one scenario at a time and prints one table of what each fault did. Fails when a
# scenario broke a promise or none ran. FAULTS_ONLY=<text> runs only the scenarios whose name contains it.
set -euo pipefail
cd "$(dirname "$0")/.."
export SERVICES_DIR=${SERVICES_DIR:-$PWD/.services-faults}

cleanup() { bash scripts/services.sh stop || true; }
trap cleanup EXIT
bash scripts/services.sh start
# shellcheck disable=SC1091
source "$SERVICES_DIR/env"

mapfile -t files < <(find api -name '*.faults.test.ts' | sort)
if [ "${#files[@]}" -eq 0 ]; then
  echo "no fault test files found" >&2
  exit 1
fi
node --import tsx api/test-support/faults/run-suite.ts "${files[@]}"
