#!/usr/bin/env bash
# npm run k6:smoke: builds k6 if needed, starts a fresh broker on a free port with a temp data dir, runs k6/smoke.js,
# stops the broker. Fails when a k6 threshold fails or the broker does not start.
set -euo pipefail
cd "$(dirname "$0")/.."
bash k6/install.sh
data=$(mktemp -d)
log=$(mktemp)
BROKER_DATA_DIR="$data" BROKER_GRPC_PORT=0 BROKER_METRICS_PORT=-1 BROKER_GRPC_HOST=127.0.0.1 node --import tsx api/cli.ts serve > "$log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data" "$log"; }
trap cleanup EXIT
port=""
for _ in $(seq 1 300); do
  port=$(grep -o '"grpcPort":[0-9]*' "$log" | head -1 | cut -d: -f2 || true)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "broker did not start:" >&2; cat "$log" >&2; exit 1; }
cd k6
BROKER_ADDRESS="127.0.0.1:$port" ../.tools/bin/k6 run --quiet smoke.js
