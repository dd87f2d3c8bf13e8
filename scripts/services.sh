#!/usr/bin/env bash
# Test services on free loopback ports: Redis (Debian redis-server) and a CQL server (Apache Cassandra from Maven
# Central's jars on the machine's Java, the stand-in for ScyllaDB: same protocol, same driver).
#   bash scripts/services.sh start|stop|status|stop-redis|start-redis|stop-cql|start-cql
# `start` installs what is missing, starts both (reusing servers already running from the same state dir), and writes
# $SERVICES_DIR/env (TEST_REDIS_URL, TEST_CQL_CONTACT_POINTS, TEST_CQL_LOCAL_DC).
# The stop-*/start-* commands restart one server on the same port, for failure tests. `stop` is idempotent.
# `status` exits 1 unless both run.
# Settings: SERVICES_DIR (state dir, default .services), CASSANDRA_VERSION (5.0.x), CASSANDRA_HOME_CACHE (jar cache),
# CQL_START_TIMEOUT (seconds, default 180).
# SERVICES_SECURED=1 (remembered by the state dir) starts both with security on, for the tests of the broker's
# dependency credentials (issue 15): Redis on a TLS port only, its default user off and an ACL user `broker`; the CQL
# server with PasswordAuthenticator, CassandraAuthorizer and client encryption required, and a role `broker` made
# through the default superuser. Certificates are made at start with openssl (a CA, and a server certificate for
# 127.0.0.1 and localhost), passwords are random; the env file then also has TEST_TLS_CA, TEST_REDIS_USERNAME,
# TEST_REDIS_PASSWORD, TEST_CQL_USERNAME and TEST_CQL_PASSWORD (and TEST_REDIS_URL is rediss://).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${SERVICES_DIR:-$PWD/.services}
CASSANDRA_VERSION=${CASSANDRA_VERSION:-5.0.4}
CASSANDRA_HOME_CACHE=${CASSANDRA_HOME_CACHE:-$HOME/.cache/broker-cassandra/$CASSANDRA_VERSION}
CASSANDRA_LIB=${CASSANDRA_LIB:-$CASSANDRA_HOME_CACHE/lib}
CQL_START_TIMEOUT=${CQL_START_TIMEOUT:-180}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
# One services.sh at a time per state dir, so two test runs never start two servers on one port.
exec 9>"$DIR/.lock"
flock -w 600 9 || { echo "services: another services.sh holds $DIR/.lock" >&2; exit 1; }

log() { echo "services: $*" >&2; }

if [ -n "${SERVICES_SECURED:-}" ]; then touch "$DIR/secured"; fi
secured() { [ -f "$DIR/secured" ]; }

secret() { # name -> a random password kept in the state dir (the same across restarts)
  local f="$DIR/$1.secret"
  [ -s "$f" ] || (umask 077; openssl rand -hex 16 > "$f")
  cat "$f"
}

# A CA and a server certificate for 127.0.0.1/localhost (also as PKCS12 for Cassandra), made once per state dir.
make_certificates() {
  local t="$DIR/tls"
  [ -s "$t/server.p12" ] && return 0
  command -v openssl >/dev/null || { log "installing openssl"; apt_install openssl; }
  mkdir -p "$t"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=broker test services CA" \
    -keyout "$t/ca.key" -out "$t/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$t/server.key" -out "$t/server.csr" 2>/dev/null
  printf "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n" > "$t/server.ext"
  openssl x509 -req -in "$t/server.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial -days 30 \
    -extfile "$t/server.ext" -out "$t/server.pem" 2>/dev/null
  openssl pkcs12 -export -in "$t/server.pem" -inkey "$t/server.key" -name server \
    -passout "pass:$(secret keystore)" -out "$t/server.p12.part"
  mv "$t/server.p12.part" "$t/server.p12"
}

apt_install() {
  if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq >/dev/null; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

port_of() { # name -> remembered port (chosen once per state dir, so restarts keep it)
  local f="$DIR/$1.port"
  [ -s "$f" ] || free_port > "$f"
  cat "$f"
}

port_busy() { (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; }

# Before a full `start` of a stopped server: forget a remembered port that something else has taken meanwhile.
# (start-redis/start-cql keep the port whatever happens: a failure test needs the same address back.)
fresh_port() { # name
  local f="$DIR/$1.port"
  if [ -s "$f" ] && port_busy "$(cat "$f")"; then
    log "port $(cat "$f") of $1 is taken by another process; choosing a new one"
    rm -f "$f"
  fi
}

need_free() { # port name
  if port_busy "$1"; then log "cannot start $2: port $1 is taken by another process (see: ss -ltnp | grep :$1)"; return 1; fi
}

alive() { [ -s "$DIR/$1.pid" ] && [ -d "/proc/$(cat "$DIR/$1.pid")" ] && ! grep -q '^State:.*Z' "/proc/$(cat "$DIR/$1.pid")/status" 2>/dev/null; }

wait_tcp() { # port seconds name [pidname]: until the port accepts, the deadline passes, or the process dies
  local deadline=$((SECONDS + $2))
  until port_busy "$1"; do
    # A daemonizing server writes its pid file a moment after it starts: only a written pid that is gone means dead.
    if [ -n "${4:-}" ] && [ -s "$DIR/$4.pid" ] && ! alive "$4"; then log "$3 exited before listening on port $1"; return 1; fi
    if [ $SECONDS -ge $deadline ]; then log "$3 did not listen on port $1 within $2 s"; return 1; fi
    sleep 0.5
  done
}

cql_security_yaml() {
  if ! secured; then printf "authenticator: AllowAllAuthenticator\nauthorizer: AllowAllAuthorizer\n"; return; fi
  make_certificates
  cat <<YAML
authenticator: PasswordAuthenticator
authorizer: CassandraAuthorizer
role_manager: CassandraRoleManager
roles_validity: 0ms
permissions_validity: 0ms
client_encryption_options:
  enabled: true
  optional: false
  keystore: $DIR/tls/server.p12
  keystore_password: $(secret keystore)
  store_type: PKCS12
YAML
}

# The native port opens last in Cassandra's start-up; a real query proves the node serves CQL. Secured, the query
# goes over TLS as the default superuser (made a moment after the port opens, so it is retried), which then makes
# the role `broker` with the right to create keyspaces (a keyspace's creator gets every right on it).
cql_ready() { # port seconds
  [ -d node_modules/cassandra-driver ] || return 0
  local creds=""; secured && creds="$(secret cql) $DIR/tls/ca.pem"
  timeout "$2" node -e '
    const { Client } = require("cassandra-driver");
    const { readFileSync } = require("node:fs");
    const [port, password, ca] = process.argv.slice(1);
    const secured = password === undefined ? {} : {
      credentials: { username: "cassandra", password: "cassandra" },
      sslOptions: { ca: readFileSync(ca, "utf8"), rejectUnauthorized: true },
    };
    const options = { contactPoints: ["127.0.0.1:" + port], localDataCenter: "datacenter1", ...secured };
    const ready = async () => {
      for (let i = 0; ; i++) {
        const c = new Client(options);
        try {
          const r = await c.execute("SELECT release_version FROM system.local");
          console.error("services: CQL server release " + r.first().release_version);
          if (password !== undefined) {
            await c.execute("CREATE ROLE IF NOT EXISTS broker WITH PASSWORD = \x27" + password + "\x27 AND LOGIN = true");
            await c.execute("GRANT CREATE ON ALL KEYSPACES TO broker");
          }
          return c.shutdown();
        } catch (e) {
          await c.shutdown().catch(() => undefined);
          if (password === undefined || i >= 60) throw e;
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    };
    ready().catch((e) => { console.error("services: CQL query failed: " + e.message); process.exit(1); });
  ' "$1" $creds
}

start_redis() {
  command -v redis-server >/dev/null || { log "installing redis-server"; apt_install redis-server; }
  alive redis && return 0
  local port; port=$(port_of redis)
  need_free "$port" redis
  mkdir -p "$DIR/redis"
  rm -f "$DIR/redis.pid"
  local security=()
  if secured; then
    make_certificates
    # TLS only (port 0 closes the plaintext port); clients are not asked for certificates, only for a password.
    security=(--port 0 --tls-port "$port" --tls-cert-file "$DIR/tls/server.pem" --tls-key-file "$DIR/tls/server.key"
      --tls-ca-cert-file "$DIR/tls/ca.pem" --tls-auth-clients no
      --user default off --user broker on ">$(secret redis)" "~*" "&*" "+@all")
  else
    security=(--port "$port")
  fi
  redis-server "${security[@]}" --bind 127.0.0.1 --dir "$DIR/redis" --appendonly yes --appendfsync everysec \
    --save '' --daemonize yes --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log" >/dev/null 9>&-
  if ! wait_tcp "$port" 20 redis redis; then tail -20 "$DIR/redis.log" >&2 || true; return 1; fi
  log "redis on 127.0.0.1:$port"
}

stop_pid() { # name
  if alive "$1"; then
    local pid; pid=$(cat "$DIR/$1.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$DIR/$1.pid"
}

fetch_cassandra() {
  [ -f "$CASSANDRA_LIB/cassandra-all-$CASSANDRA_VERSION.jar" ] && return 0
  command -v java >/dev/null || { log "installing Java"; apt_install openjdk-17-jre-headless; }
  command -v mvn >/dev/null || { log "installing Maven"; apt_install maven; }
  log "fetching cassandra-all $CASSANDRA_VERSION and its dependencies from Maven Central"
  local work; work=$(mktemp -d)
  cat > "$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.broker</groupId><artifactId>cassandra-runtime</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.cassandra</groupId><artifactId>cassandra-all</artifactId><version>$CASSANDRA_VERSION</version></dependency>
  </dependencies>
</project>
POM
  rm -rf "$CASSANDRA_LIB.part"; mkdir -p "$(dirname "$CASSANDRA_LIB")"
  if ! (cd "$work" && timeout 1200 mvn -q -B dependency:copy-dependencies -DoutputDirectory="$CASSANDRA_LIB.part" -DincludeScope=runtime); then
    log "maven could not fetch cassandra-all $CASSANDRA_VERSION (is Maven Central reachable?)"
    rm -rf "$work" "$CASSANDRA_LIB.part"
    return 1
  fi
  rm -rf "$work" "$CASSANDRA_LIB"
  mv "$CASSANDRA_LIB.part" "$CASSANDRA_LIB" # complete or absent: an interrupted fetch is redone

}

start_cql() {
  alive cql && return 0
  fetch_cassandra
  local port storage; port=$(port_of cql); storage=$(port_of cql-storage)
  need_free "$port" cassandra; need_free "$storage" "cassandra (storage port)"
  local started=$SECONDS
  local home="$DIR/cassandra"
  mkdir -p "$home/data" "$home/commitlog" "$home/saved_caches" "$home/hints" "$home/cdc" "$home/logs"
  cat > "$home/cassandra.yaml" <<YAML
cluster_name: broker-test
num_tokens: 1
initial_token: 0
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
data_file_directories: [$home/data]
commitlog_directory: $home/commitlog
saved_caches_directory: $home/saved_caches
hints_directory: $home/hints
cdc_raw_directory: $home/cdc
commitlog_sync: periodic
commitlog_sync_period: 10000ms
hinted_handoff_enabled: false
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "127.0.0.1:$storage"
listen_address: 127.0.0.1
rpc_address: 127.0.0.1
storage_port: $storage
native_transport_port: $port
start_native_transport: true
endpoint_snitch: SimpleSnitch
$(cql_security_yaml)
auto_snapshot: false
snapshot_before_compaction: false
concurrent_compactors: 1
dynamic_snitch: false
YAML
  local jvm17=(
    --add-exports java.base/jdk.internal.misc=ALL-UNNAMED --add-exports java.base/jdk.internal.ref=ALL-UNNAMED
    --add-exports java.base/sun.nio.ch=ALL-UNNAMED --add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
    --add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED
    --add-exports java.sql/java.sql=ALL-UNNAMED --add-exports java.base/java.lang.ref=ALL-UNNAMED
    --add-exports jdk.unsupported/sun.misc=ALL-UNNAMED
    --add-opens java.base/java.lang.module=ALL-UNNAMED --add-opens java.base/jdk.internal.loader=ALL-UNNAMED
    --add-opens java.base/jdk.internal.ref=ALL-UNNAMED --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED
    --add-opens java.base/jdk.internal.math=ALL-UNNAMED --add-opens java.base/jdk.internal.module=ALL-UNNAMED
    --add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
    --add-opens java.base/sun.nio.ch=ALL-UNNAMED --add-opens java.base/java.io=ALL-UNNAMED
    --add-opens java.base/java.nio=ALL-UNNAMED --add-opens java.base/java.util.concurrent=ALL-UNNAMED
    --add-opens java.base/java.util=ALL-UNNAMED --add-opens java.base/java.util.concurrent.atomic=ALL-UNNAMED
    --add-opens java.base/java.lang=ALL-UNNAMED --add-opens java.base/java.math=ALL-UNNAMED
    --add-opens java.base/java.lang.reflect=ALL-UNNAMED --add-opens java.base/java.net=ALL-UNNAMED
  )
  # One small node: a 1 GiB heap, no gossip settling wait, no JMX, quick ring join.
  cat > "$home/logback.xml" <<XML
<configuration>
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d{HH:mm:ss.SSS} %-5level %logger{20} - %msg%n</pattern></encoder>
  </appender>
  <root level="WARN"><appender-ref ref="STDOUT"/></root>
  <logger name="org.apache.cassandra.transport.PipelineConfigurator" level="INFO"/>
</configuration>
XML
  # setsid: the server outlives the shell (and test process) that started it, until `stop`.
  setsid nohup java -Xms512m -Xmx1g -Xss512k -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError \
    "${jvm17[@]}" \
    -Dcassandra.config="file://$home/cassandra.yaml" -Dcassandra.storagedir="$home" \
    -Dcassandra.logdir="$home/logs" -Dcassandra-foreground=yes -Dlogback.configurationFile="$home/logback.xml" \
    -Dcassandra.skip_wait_for_gossip_to_settle=0 -Dcassandra.ring_delay_ms=100 \
    -Dcassandra.superuser_setup_delay_ms=0 -Dcassandra.jmx.local.port=0 -Dcassandra.start_rpc=false \
    -Dcassandra.initial_token=0 -Dcassandra.num_tokens=1 \
    -cp "$CASSANDRA_LIB/*" org.apache.cassandra.service.CassandraDaemon > "$home/logs/stdout.log" 2>&1 9>&- &
  echo $! > "$DIR/cql.pid"
  if ! wait_tcp "$port" "$CQL_START_TIMEOUT" cassandra cql || ! cql_ready "$port" 60; then
    log "last lines of $home/logs/stdout.log:"
    tail -40 "$home/logs/stdout.log" >&2
    stop_pid cql
    return 1
  fi
  log "cassandra (CQL) on 127.0.0.1:$port, ready in $((SECONDS - started)) s"
}

write_env() {
  local scheme=redis; secured && scheme=rediss
  cat > "$DIR/env" <<ENV
export TEST_REDIS_URL=$scheme://127.0.0.1:$(port_of redis)
export TEST_CQL_CONTACT_POINTS=127.0.0.1:$(port_of cql)
export TEST_CQL_LOCAL_DC=datacenter1
export SERVICES_DIR=$DIR
ENV
  if secured; then
    cat >> "$DIR/env" <<ENV
export TEST_TLS_CA=$DIR/tls/ca.pem
export TEST_REDIS_USERNAME=broker
export TEST_REDIS_PASSWORD=$(secret redis)
export TEST_CQL_USERNAME=broker
export TEST_CQL_PASSWORD=$(secret cql)
ENV
  fi
}

case "${1:-}" in
  start)
    alive redis || fresh_port redis
    alive cql || { fresh_port cql; fresh_port cql-storage; }
    start_redis; start_cql; write_env ;;
  stop) stop_pid cql; stop_pid redis; log "stopped" ;;
  status)
    ok=0
    for s in redis cql; do if alive $s; then echo "$s: running on port $(port_of $s)"; else echo "$s: stopped"; ok=1; fi; done
    exit $ok ;;
  stop-redis) stop_pid redis ;;
  start-redis) start_redis ;;
  stop-cql) stop_pid cql ;;
  start-cql) start_cql ;;
  *) echo "usage: $0 start|stop|status|stop-redis|start-redis|stop-cql|start-cql" >&2; exit 2 ;;
esac
