#!/usr/bin/env bash
# A cluster on loopback, for trying it and for tests by hand (issue 13):
#   npm run cluster -- up [--brokers N] [--workers W]
#                                         starts the CQL server and Redis (scripts/services.sh) and N brokers of one
#                                         cluster (BROKER_CLUSTER=local), each on a free port, and prints their addresses;
#                                         W worker processes per broker (BROKER_WORKERS: a number or auto; default 1),
#                                         each a member of its own (<id>/w<i>) on a free peer port
#   npm run cluster -- status             the brokers' addresses and whether they run
#   npm run cluster -- down               stops the brokers (SIGTERM: they hand their partitions over) and the servers
# State, data dirs and logs under CLUSTER_DIR (default .cluster). Brokers run the built dist/ (npm run build).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${CLUSTER_DIR:-$PWD/.cluster}
cmd=${1:-up}
[ $# -gt 0 ] && shift
brokers=3
workers=1
while [ $# -gt 0 ]; do
  case "$1" in
    --brokers) brokers=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    *) echo "cluster: unknown option $1 (usage: up [--brokers N] [--workers W] | status | down)" >&2; exit 2 ;;
  esac
done

address_of() { grep -o '"grpcPort":[0-9]*' "$DIR/$1.log" 2>/dev/null | tail -1 | cut -d: -f2; }

status() {
  for pidfile in "$DIR"/b*.pid; do
    [ -e "$pidfile" ] || { echo "no brokers (npm run cluster -- up)"; return 0; }
    local id; id=$(basename "$pidfile" .pid)
    local pid; pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then state=running; else state=stopped; fi
    echo "$id  127.0.0.1:$(address_of "$id")  $state  (pid $pid, log $DIR/$id.log)"
  done
}

up() {
  mkdir -p "$DIR"
  [ -f dist/api/cli.js ] || npm run build --silent
  SERVICES_DIR="$DIR/services" bash scripts/services.sh start
  # shellcheck disable=SC1091
  source "$DIR/services/env"
  for i in $(seq 1 "$brokers"); do
    local id="b$i"
    if [ -e "$DIR/$id.pid" ] && kill -0 "$(cat "$DIR/$id.pid")" 2>/dev/null; then continue; fi
    BROKER_CLUSTER=local BROKER_ID="$id" BROKER_WORKERS="$workers" BROKER_DATA_DIR="$DIR/$id" BROKER_GRPC_HOST=127.0.0.1 BROKER_GRPC_PORT=0 \
      BROKER_METRICS_PORT=0 SCYLLA_CONTACT_POINTS="$TEST_CQL_CONTACT_POINTS" SCYLLA_LOCAL_DC="$TEST_CQL_LOCAL_DC" \
      nohup node dist/api/cli.js serve >"$DIR/$id.log" 2>&1 &
    echo $! >"$DIR/$id.pid"
  done
  for i in $(seq 1 "$brokers"); do
    for _ in $(seq 1 300); do
      grep -q '"msg":"listening"' "$DIR/b$i.log" 2>/dev/null && break
      kill -0 "$(cat "$DIR/b$i.pid")" 2>/dev/null || { echo "b$i did not start:" >&2; tail -5 "$DIR/b$i.log" >&2; exit 1; }
      sleep 0.1
    done
  done
  status
  echo "try: node dist/api/cli.js publish orders hello --server 127.0.0.1:$(address_of b1)"
}

down() {
  for pidfile in "$DIR"/b*.pid; do
    [ -e "$pidfile" ] || continue
    kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  for pidfile in "$DIR"/b*.pid; do
    [ -e "$pidfile" ] || continue
    while kill -0 "$(cat "$pidfile")" 2>/dev/null; do sleep 0.1; done
    rm -f "$pidfile"
  done
  SERVICES_DIR="$DIR/services" bash scripts/services.sh stop
}

case "$cmd" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "cluster: unknown command $cmd (up [--brokers N] [--workers W] | status | down)" >&2; exit 2 ;;
esac
