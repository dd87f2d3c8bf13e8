#!/usr/bin/env bash
# The whole test suite (the README's test command, `npm test`): starts the servers the tests need (Redis, a CQL
# server) on free loopback ports, runs every *.test.ts with node's test runner, and stops the servers again.
# Tests that stop and restart a server (*.cql.test.ts, *.redis.test.ts) run one file at a time, after the rest,
# so an outage one of them causes on purpose never lands in another. Fails when a test fails or no test ran.
set -euo pipefail
cd "$(dirname "$0")/.."

cleanup() { bash scripts/services.sh stop || true; }
trap cleanup EXIT
bash scripts/services.sh start
# grpcurl: the reflection test drives the broker with it, as a user would; prometheus (Debian's): the monitoring test;
# jaeger (built once from the Go module proxy, slow the first time): the tracing test sends its spans there.
bash scripts/tools.sh grpcurl prometheus jaeger
# shellcheck disable=SC1091
source .services/env

# *.faults.test.ts are the fault-injection scenarios: npm run test:faults runs them (CI too), so not here as well.
mapfile -t local_files < <(find core log retention tiering jobs cluster api bench -name '*.test.ts' -not -name '*.cql.test.ts' -not -name '*.redis.test.ts' -not -name '*.faults.test.ts' -not -path '*/node_modules/*' | sort)
mapfile -t server_files < <(find core log retention tiering jobs cluster api bench \( -name '*.cql.test.ts' -o -name '*.redis.test.ts' \) -not -path '*/node_modules/*' | sort)
if [ "$((${#local_files[@]} + ${#server_files[@]}))" -eq 0 ]; then
  echo "no test files found" >&2
  exit 1
fi

out=$(mktemp)
status=0
run() { # concurrency files...
  local concurrency=$1; shift
  [ "$#" -gt 0 ] || return 0
  set +e
  # --test-force-exit: cassandra-driver can keep a reconnection timer alive after shutdown() when the server was
  # restarted under it (the outage tests do that); a file whose tests all finished must not then wait for the timeout.
  node --import tsx --test --test-force-exit --test-concurrency="$concurrency" --test-timeout=300000 "$@" 2>&1 | tee -a "$out"
  local s=${PIPESTATUS[0]}
  set -e
  [ "$s" -eq 0 ] || status=$s
}
run "${TEST_CONCURRENCY:-2}" "${local_files[@]}"
run 1 "${server_files[@]}"
# The end-to-end suite once more against a broker of 3 worker processes (BROKER_WORKERS=3, issue 12): every contract
# behaviour must hold with workers too. E2E_WORKERS is read by api/test-support/broker-process.ts.
# (Only the files that start brokers as processes; workers.e2e.test.ts sets its own BROKER_WORKERS.)
mapfile -t e2e_files < <(grep -l startBrokerProcess api/e2e/*.e2e.test.ts | grep -v workers.e2e.test.ts | sort)
E2E_WORKERS=3 run "${TEST_CONCURRENCY:-2}" "${e2e_files[@]}"

sum() { grep -E "^# $1 [0-9]+" "$out" | awk '{n += $3} END {print n + 0}'; }
pass=$(sum pass)
fail=$(( $(sum fail) + $(sum cancelled) ))
rm -f "$out"
echo "${pass} passed, ${fail} failed"
if [ "$status" -ne 0 ] || [ "$fail" -ne 0 ]; then exit 1; fi
if [ "$pass" -eq 0 ]; then
  echo "no test ran" >&2
  exit 1
fi
