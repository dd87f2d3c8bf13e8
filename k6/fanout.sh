#!/usr/bin/env bash
# npm run k6:fanout: starts a fresh broker as users start it (node --import tsx api/cli.ts serve, configured by env;
# BROKER_WORKERS from the environment, 2 when unset), runs k6/fanout.js against it, samples the broker's RSS per
# process (the broker process and each of its children: with BROKER_WORKERS > 1 the primary and its workers) and
# k6's, and prints a table at the end. Fails when a k6 threshold fails or the broker does not start.
# The scenario's knobs (SUBSCRIBERS, SUBJECTS, RATE, DURATION, STREAMS_PER_VU, PAYLOAD_BYTES, SETTLE, GRACE) pass
# through the environment; 10,000 streams: SUBSCRIBERS=10000 RATE=20 DURATION=60 npm run k6:fanout
set -euo pipefail
cd "$(dirname "$0")/.."
bash k6/install.sh
# One descriptor per stream on each side (the broker and k6): take the hard limit.
subscribers=${SUBSCRIBERS:-300}
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] && hard=1048576
ulimit -n "$hard" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((subscribers + 1000)) ]; then
  echo "k6/fanout.sh: ulimit -n is $(ulimit -n); $subscribers streams need about $((subscribers + 1000))" >&2
fi
export BROKER_WORKERS=${BROKER_WORKERS:-2}
# Every stream has its own connection; the publishers need a few more.
export BROKER_MAX_CONNECTIONS=${BROKER_MAX_CONNECTIONS:-$((subscribers + 1000))}
data=$(mktemp -d)
out=$(mktemp -d)
# A free port chosen here, so that every worker gets the same one.
port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => {
  console.log(s.address().port);
  s.close();
})')
BROKER_DATA_DIR="$data" BROKER_GRPC_PORT="$port" BROKER_METRICS_PORT=-1 BROKER_GRPC_HOST=127.0.0.1 \
  node --import tsx api/cli.ts serve > "$out/broker.log" 2>&1 &
pid=$!
sampler=""
cleanup() {
  [ -n "$sampler" ] && { kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true; }
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$data" "$out"
}
trap cleanup EXIT

# Ready when the broker said 'listening' (with workers, the primary says it once every worker serves).
ready=""
for _ in $(seq 1 600); do
  kill -0 "$pid" 2>/dev/null || break
  grep -q '"msg":"listening"' "$out/broker.log" 2>/dev/null && { ready=1; break; }
  sleep 0.1
done
[ -n "$ready" ] || { echo "broker did not start:" >&2; cat "$out/broker.log" >&2; exit 1; }

# Every 0.5 s: RSS and CPU time of the broker process, its descendants and k6, one 'role pid kB ticks' line each.
descendants() { local c; for c in $(pgrep -P "$1" || true); do echo "$c"; descendants "$c"; done; }
# Named by their program: the broker's node children are its workers (tsx's esbuild is left out), k6 is k6.
comm() { cat "/proc/$1/comm" 2>/dev/null || true; }
# 'VmRSS-kB CPU-ticks' (user + system) of a process, or nothing when it is gone.
rss() {
  local kb ticks
  kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null) || return 0
  ticks=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }') || return 0
  if [ -n "$kb" ] && [ -n "$ticks" ]; then echo "$kb $ticks"; fi
}
# Established connections on the gRPC port per process ('conns pid n'): how node:cluster spread the clients.
conns() {
  ss -Htnp state established "( sport = :$port )" 2>/dev/null | grep -o 'pid=[0-9]*' | sort | uniq -c |
    awk '{ sub("pid=", "", $2); print "conns " $2 " " $1 }' || true
}
sample() {
  local i=0
  while true; do
    local p kb
    # Every 2 s: ss is not free with 10,000 sockets.
    if [ $((i++ % 4)) -eq 0 ]; then conns; fi
    kb=$(rss "$pid")
    if [ -n "$kb" ]; then echo "broker $pid $kb"; fi
    for p in $(descendants "$pid"); do
      [ "$(comm "$p")" = node ] || continue
      kb=$(rss "$p")
      if [ -n "$kb" ]; then echo "child $p $kb"; fi
    done
    for p in $(descendants $$); do
      [ "$(comm "$p")" = k6 ] || continue
      kb=$(rss "$p")
      if [ -n "$kb" ]; then echo "k6 $p $kb"; fi
    done
    sleep 0.5
  done
}
sample > "$out/rss" &
sampler=$!

status=0
(cd k6 && BROKER_ADDRESS="127.0.0.1:$port" ../.tools/bin/k6 run --quiet --summary-export "$out/summary.json" \
  fanout.js) || status=$?

kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
sampler=""
node - "$out/summary.json" "$out/rss" "$BROKER_WORKERS" "$(getconf CLK_TCK)" <<'EOF'
const fs = require('fs');
const [summaryPath, rssPath, workers, ticksPerSecond] = process.argv.slice(2);
const m = fs.existsSync(summaryPath) ? JSON.parse(fs.readFileSync(summaryPath, 'utf8')).metrics : {};
const val = (name, key) => (m[name] && m[name][key] !== undefined ? m[name][key] : NaN);
const ms = (v) => (Number.isFinite(v) ? `${v.toFixed(1)} ms` : '-');
// The largest RSS and the last CPU time per process; the broker process is 'broker' alone, 'primary' with children.
const max = new Map();
const cpu = new Map();
const conns = new Map();
for (const line of fs.readFileSync(rssPath, 'utf8').split('\n')) {
  const [role, pid, kb, ticks] = line.split(' ');
  if (role === 'conns') conns.set(pid, Math.max(conns.get(pid) || 0, Number(kb)));
  if (!ticks) continue;
  const key = `${role} ${pid}`;
  max.set(key, Math.max(max.get(key) || 0, Number(kb)));
  cpu.set(key, Number(ticks) / Number(ticksPerSecond));
}
const children = [...max.keys()].filter((k) => k.startsWith('child '));
const rows = [
  ['BROKER_WORKERS', workers],
  ['subscribers (streams)', `${val('subscribers_target', 'value')}`],
  ['messages published', `${val('messages_published', 'count')}`],
  ['deliveries expected', `${val('deliveries_expected', 'value')}`],
  ['deliveries received', `${val('messages_delivered', 'count')}`],
  ['subscribers complete', `${val('subscribers_complete', 'count')}`],
  ['delivery p50', ms(val('delivery_latency', 'p(50)'))],
  ['delivery p99', ms(val('delivery_latency', 'p(99)'))],
  ['delivery max', ms(val('delivery_latency', 'max'))],
  ['publish p50, p99', `${ms(val('publish_latency', 'p(50)'))}, ${ms(val('publish_latency', 'p(99)'))}`],
];
let worker = 0;
for (const [key, kb] of max) {
  const [role, pid] = key.split(' ');
  let name = role === 'child' ? `worker ${++worker}` : role;
  if (role === 'broker' && children.length) name = 'primary';
  const held = role === 'k6' ? '' : `, ${conns.get(pid) || 0} conns`;
  rows.push([`${name} (pid ${pid}) max RSS, CPU`, `${(kb / 1024).toFixed(0)} MiB, ${cpu.get(key).toFixed(1)} s${held}`]);
}
// The machine is shared: other processes' load shows in the latencies.
const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
rows.push(['load average (1, 5, 15 min)', `${load} on ${require('os').availableParallelism()} cores`]);
const width = Math.max(...rows.map((r) => r[0].length));
console.log('\nk6 fan-out');
for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v}`);
EOF
exit "$status"
