#!/usr/bin/env bash
# The whole test suite (the README's test command, `npm test`): starts the servers the tests need (Redis, a CQL
# server) on free loopback ports, runs every *.test.ts with node's test runner, and stops the servers again.
# Fails when a test fails or when no test ran.
set -euo pipefail
cd "$(dirname "$0")/.."

cleanup() { bash scripts/services.sh stop || true; }
trap cleanup EXIT
bash scripts/services.sh start
# shellcheck disable=SC1091
source .services/env

mapfile -t files < <(find core log replication api bench -name '*.test.ts' -not -path '*/node_modules/*' | sort)
if [ "${#files[@]}" -eq 0 ]; then
  echo "no test files found" >&2
  exit 1
fi
out=$(mktemp)
set +e
node --import tsx --test --test-concurrency="${TEST_CONCURRENCY:-2}" --test-timeout=600000 "${files[@]}" "$@" 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
set -e
pass=$(grep -E '^# pass [0-9]+' "$out" | tail -1 | awk '{print $3}')
fail=$(grep -E '^# fail [0-9]+' "$out" | tail -1 | awk '{print $3}')
rm -f "$out"
echo "${pass:-0} passed, ${fail:-0} failed"
if [ "$status" -ne 0 ]; then exit "$status"; fi
if [ "${pass:-0}" -eq 0 ]; then
  echo "no test ran" >&2
  exit 1
fi
