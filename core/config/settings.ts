import type { BrokerConfig } from './broker-config.js';
import { DEFAULTS } from './defaults.js';
import { ACK_MODES, DISCARD_POLICIES, FSYNC_MODES, LOG_LEVELS, SCYLLA_CONSISTENCIES } from './enums.js';
import { DEFAULT_PARTITIONS, MAX_PARTITIONS } from '../partitioning.js';
import { CQL_REPLICATION_PATTERN, CQL_REPLICATION_SAYS } from './cql-replication.js';
import { HEALTH_SETTING_SPECS } from './health-settings.js';
import { REPLICATION_SETTING_SPECS } from './replication-settings.js';
import {
  duration,
  hostList,
  integer,
  oneOf,
  optionalInteger,
  optionalText,
  optionalUrl,
  processCount,
  ratio,
  text,
  type ValueType,
} from './value-types.js';

/** One setting: its environment variable, how its text is read and checked, and what it means. */
export interface SettingSpec<V> {
  readonly env: string;
  readonly type: ValueType<V>;
  readonly help: string;
}

const MiB = 1024 * 1024;

// Credentials and file paths: anything not empty, and never echoed back in an error (a password must not be logged).
const SECRET = { pattern: /./s, says: 'must not be empty' } as const;

/** A file path or secret: anything but empty (empty means unset). */
const ANY_TEXT = { pattern: /^\S(.*\S)?$/s, says: 'must not start or end with white space' } as const;

/**
 * Every setting, keyed by its config field. The mapped type makes a field without a setting (or a setting of the
 * wrong type) a compile error; the order is the order of `broker serve --help` and the README table.
 */
export const SETTING_SPECS: { readonly [K in keyof BrokerConfig]: SettingSpec<BrokerConfig[K]> } = {
  grpcHost: { env: 'BROKER_GRPC_HOST', type: text(), help: 'address the gRPC server binds' },
  grpcPort: { env: 'BROKER_GRPC_PORT', type: integer(0, 65535), help: 'gRPC port (0 = any free port)' },
  metricsPort: {
    env: 'BROKER_METRICS_PORT',
    type: integer(-1, 65535),
    help: 'Prometheus /metrics port (0 = any free port, -1 = off)',
  },
  metricsHost: {
    env: 'BROKER_METRICS_HOST',
    type: optionalText(ANY_TEXT),
    help: 'address the metrics endpoint binds (e.g. 127.0.0.1 to keep /metrics off the network; unset = BROKER_GRPC_HOST)',
  },
  ...HEALTH_SETTING_SPECS,
  dataDir: { env: 'BROKER_DATA_DIR', type: text(), help: 'LevelDB directory' },
  workers: {
    env: 'BROKER_WORKERS',
    type: processCount(256),
    help: 'worker processes that share the gRPC port and split the partitions (auto = the cores this process may use)',
  },
  partitions: {
    env: 'BROKER_PARTITIONS',
    type: optionalInteger(1, MAX_PARTITIONS),
    help: `partitions of a new data dir (recorded in it; a different value later refuses to start; unset = the data dir's, ${DEFAULT_PARTITIONS} for a new one)`,
  },
  fsync: {
    env: 'BROKER_FSYNC',
    type: oneOf(FSYNC_MODES),
    help: 'batch: fsync every group commit before acking; never: leave it to the OS',
  },
  acks: {
    env: 'BROKER_ACKS',
    type: oneOf(ACK_MODES),
    help: 'local: ack once in the local log; replicated: ack once ScyllaDB has the record too (needs SCYLLA_CONTACT_POINTS and BROKER_CLUSTER)',
  },
  ...REPLICATION_SETTING_SPECS,
  retentionMs: {
    env: 'BROKER_RETENTION',
    type: duration(),
    help: 'subject retention for messages without expiration (e.g. 7d, 12h, 3600 = seconds; 0 = for ever)',
  },
  maxBodyBytes: { env: 'BROKER_MAX_BODY_BYTES', type: integer(1, 64 * MiB), help: 'largest message body accepted' },
  maxConnections: {
    env: 'BROKER_MAX_CONNECTIONS',
    type: integer(1),
    help: 'open client connections; one more is closed as accepted (clamped to what the fd limit leaves: see api/README)',
  },
  handshakeTimeoutMs: {
    env: 'BROKER_HANDSHAKE_TIMEOUT',
    type: duration(100),
    help: 'a connection that has not sent the HTTP/2 preface (or finished its TLS handshake) this long after opening is closed',
  },
  maxConnectionIdleMs: {
    env: 'BROKER_MAX_CONNECTION_IDLE',
    type: duration(),
    help: 'a connection with no call open this long gets a GOAWAY (clients reconnect; 0 = never)',
  },
  maxConnectionAgeMs: {
    env: 'BROKER_MAX_CONNECTION_AGE',
    type: duration(),
    help: 'every connection gets a GOAWAY this long after opening, to rebalance (0 = never)',
  },
  maxConnectionAgeGraceMs: {
    env: 'BROKER_MAX_CONNECTION_AGE_GRACE',
    type: duration(),
    help: "calls still open after the age's GOAWAY get this long before the connection closes",
  },
  maxSubjects: {
    env: 'BROKER_MAX_SUBJECTS',
    type: integer(1),
    help: 'subjects held; a publish to a new subject beyond it gets RESOURCE_EXHAUSTED SUBJECT_LIMIT (a total: with several workers each holds the share of the partitions it owns)',
  },
  segmentMaxRecords: {
    env: 'BROKER_SEGMENT_MAX_RECORDS',
    type: integer(1),
    help: 'roll a segment after this many records',
  },
  segmentMaxBytes: {
    env: 'BROKER_SEGMENT_MAX_BYTES',
    type: integer(1),
    help: 'roll a segment after this many body bytes',
  },
  segmentMaxAgeMs: {
    env: 'BROKER_SEGMENT_MAX_AGE',
    type: duration(1),
    help: 'seal a segment this long after its first record',
  },
  localRetentionMs: {
    env: 'BROKER_LOCAL_RETENTION',
    type: duration(),
    help: 'drop replicated segments locally after this age (0 = keep until expiry)',
  },
  localRetentionBytes: {
    env: 'BROKER_LOCAL_RETENTION_BYTES',
    type: integer(0),
    help: 'per subject, drop oldest replicated segments beyond this size (0 = no limit)',
  },
  maxSubjectBytes: {
    env: 'BROKER_MAX_SUBJECT_BYTES',
    type: integer(0),
    help: 'body bytes stored per subject; past it a publish gets RESOURCE_EXHAUSTED STORAGE_FULL, or drops the oldest data (BROKER_DISCARD) (0 = no limit)',
  },
  maxTotalBytes: {
    env: 'BROKER_MAX_TOTAL_BYTES',
    type: integer(0),
    help: 'body bytes stored over all subjects; past it as BROKER_MAX_SUBJECT_BYTES (0 = no limit; a total: with several workers each stores the share of the partitions it owns)',
  },
  discardPolicy: {
    env: 'BROKER_DISCARD',
    type: oneOf(DISCARD_POLICIES),
    help: "at a size limit: refuse = answer STORAGE_FULL; oldest = drop the subject's oldest sealed segments (replicated or not)",
  },
  minFreeBytes: {
    env: 'BROKER_MIN_FREE_BYTES',
    type: integer(0),
    help: "free space kept on the data dir's file system: below it publishes get RESOURCE_EXHAUSTED STORAGE_FULL (0 = off)",
  },
  tailCacheRecords: {
    env: 'BROKER_TAIL_CACHE_RECORDS',
    type: integer(0),
    help: 'recent records cached per active subject for subscribers',
  },
  tailCacheBytes: {
    env: 'BROKER_TAIL_CACHE_BYTES',
    type: integer(0),
    help: 'memory for all tail caches together (a total: with several workers each has the share of the partitions it owns)',
  },
  levelDbCacheBytes: {
    env: 'BROKER_LEVELDB_CACHE_BYTES',
    type: integer(0),
    help: "LevelDB block cache of all partitions together, split evenly: ceil(value / partitions) each, at least 64 KiB (level's default was 8 MiB per partition)",
  },
  levelDbWriteBufferBytes: {
    env: 'BROKER_LEVELDB_WRITE_BUFFER_BYTES',
    type: integer(64 * 1024),
    help: "LevelDB write buffers (memtables) of all partitions together, split evenly, at least 64 KiB each; up to twice this is resident while memtables are flushed (level's default was 4 MiB per partition)",
  },
  subjectCacheSize: {
    env: 'BROKER_SUBJECT_CACHE',
    type: integer(16),
    help: 'per-subject states kept in memory (LRU, about 1.1 KiB each; a total, split evenly over the partitions: ceil(value / partitions) each)',
  },
  maxSubscribers: { env: 'BROKER_MAX_SUBSCRIBERS', type: integer(1), help: 'open Subscribe streams allowed' },
  // At least 64 KiB: a page must hold a whole message whatever BROKER_MAX_BODY_BYTES is (the server sends the larger).
  maxResponseBytes: {
    env: 'BROKER_MAX_RESPONSE_BYTES',
    type: integer(64 * 1024, 1024 * MiB),
    help: 'largest FetchRange page: max_bytes above it is clamped, next_id says where to go on',
  },
  subscriberBufferBytes: {
    env: 'BROKER_SUBSCRIBER_BUFFER_BYTES',
    type: integer(64 * 1024),
    help: 'bytes queued to all Subscribe streams; past it the subscriber with most queued ends with SLOW_CONSUMER',
  },
  maxInflightPublishBytes: {
    env: 'BROKER_MAX_INFLIGHT_PUBLISH_BYTES',
    type: integer(64 * 1024),
    help: 'publish bytes not yet acked; past it Publish and PublishBatch get OVERLOADED, PublishStream stops reading',
  },
  maxStreamsPerConnection: {
    env: 'BROKER_MAX_STREAMS_PER_CONNECTION',
    type: integer(1),
    help: 'concurrent calls per HTTP/2 connection (grpc.max_concurrent_streams); more wait in the client',
  },
  shutdownTimeoutMs: {
    env: 'BROKER_SHUTDOWN_TIMEOUT',
    type: duration(),
    help: 'graceful shutdown wait for in-flight calls',
  },
  // A timer below 100 ms would spend the broker on compaction passes that find nothing to do.
  compactionIntervalMs: {
    env: 'BROKER_COMPACTION_INTERVAL',
    type: duration(100),
    help: 'how often compaction and stale-segment sealing run',
  },
  brokerId: {
    env: 'BROKER_ID',
    // The id names BullMQ queues and metric labels, so it keeps to characters both accept.
    type: text({ pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, says: "must be 1-63 letters, digits, '.', '_' or '-'" }),
    help: "this broker's name in job queues and metrics",
  },
  redisUrl: {
    env: 'REDIS_URL',
    type: optionalUrl({ pattern: /^rediss?:\/\//, says: 'must start with redis:// or rediss://' }),
    help: 'Redis for the BullMQ job queues (unset = jobs queued in memory); rediss:// = TLS, credentials may be in it',
  },
  redisUsername: { env: 'REDIS_USERNAME', type: optionalText(SECRET), help: 'Redis ACL user (needs REDIS_PASSWORD)' },
  redisPassword: {
    env: 'REDIS_PASSWORD',
    type: optionalText(SECRET),
    help: "password of REDIS_USERNAME, or of Redis's requirepass (prefer REDIS_PASSWORD_FILE)",
  },
  redisTlsCa: {
    env: 'REDIS_TLS_CA',
    type: optionalText(SECRET),
    help: "PEM CA file Redis's certificate is checked with (needs a rediss:// REDIS_URL; unset = the system's CAs)",
  },
  queuePrefix: { env: 'BROKER_QUEUE_PREFIX', type: text(), help: 'BullMQ key prefix' },
  scyllaContactPoints: {
    env: 'SCYLLA_CONTACT_POINTS',
    type: hostList(),
    help: 'ScyllaDB/Cassandra host:port,... (unset = no replication)',
  },
  scyllaKeyspace: {
    env: 'SCYLLA_KEYSPACE',
    // The keyspace is spliced into CQL unquoted, so only unquoted-identifier characters are allowed.
    type: text({
      pattern: /^[a-z][a-z0-9_]{0,47}$/,
      says: 'must be lower-case letters, digits and _ (at most 48), starting with a letter',
    }),
    help: 'keyspace the broker creates and uses',
  },
  scyllaLocalDc: { env: 'SCYLLA_LOCAL_DC', type: text(), help: 'local data center for the CQL driver' },
  scyllaReplicationFactor: {
    env: 'SCYLLA_REPLICATION_FACTOR',
    type: integer(1, 10),
    help: 'replication factor when creating the keyspace',
  },
  scyllaReplication: {
    env: 'SCYLLA_REPLICATION',
    type: optionalText({ pattern: CQL_REPLICATION_PATTERN, says: CQL_REPLICATION_SAYS }),
    help: "CQL replication map when creating the keyspace, e.g. {'class': 'NetworkTopologyStrategy', 'datacenter1': 3} (unset = SimpleStrategy at SCYLLA_REPLICATION_FACTOR)",
  },
  scyllaConsistency: {
    env: 'SCYLLA_CONSISTENCY',
    type: oneOf(SCYLLA_CONSISTENCIES),
    help: SCYLLA_CONSISTENCIES.join(' | '),
  },
  scyllaUsername: {
    env: 'SCYLLA_USERNAME',
    type: optionalText(SECRET),
    help: 'CQL role the broker logs in as (PasswordAuthenticator; needs SCYLLA_PASSWORD)',
  },
  scyllaPassword: {
    env: 'SCYLLA_PASSWORD',
    type: optionalText(SECRET),
    help: 'password of SCYLLA_USERNAME (prefer SCYLLA_PASSWORD_FILE)',
  },
  scyllaTlsCa: {
    env: 'SCYLLA_TLS_CA',
    type: optionalText(SECRET),
    help: "PEM CA file: CQL over TLS, the server's certificate checked with it and the contact point's name (unset = plaintext)",
  },
  replicationConcurrency: {
    env: 'BROKER_REPLICATION_CONCURRENCY',
    type: integer(1, 4096),
    help: 'CQL writes in flight per replication job',
  },
  replicationJobs: {
    env: 'BROKER_REPLICATION_JOBS',
    type: integer(1, 64),
    help: 'replication jobs (one sealed segment each) in flight per broker',
  },
  logLevel: { env: 'BROKER_LOG_LEVEL', type: oneOf(LOG_LEVELS), help: LOG_LEVELS.join(' | ') },
  dedupeWindowMs: {
    env: 'BROKER_DEDUPE_WINDOW',
    type: duration(),
    help: 'a publish repeating an idempotency key on its subject within this window gets the first id (0 = off)',
  },
  idReservation: {
    env: 'BROKER_ID_RESERVATION',
    type: integer(1, 1_000_000_000),
    help: "ids a cluster reserves in ScyllaDB ahead of a subject's last id (a new owner or a wiped disk skips up to this many ids never issued)",
  },
  cluster: {
    env: 'BROKER_CLUSTER',
    // The name keys the cluster's rows in ScyllaDB and shows in logs, so it keeps to BROKER_ID's characters.
    type: optionalText({
      pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/,
      says: "must be 1-63 letters, digits, '.', '_' or '-'",
    }),
    help: 'cluster name: brokers with the same name, SCYLLA_CONTACT_POINTS and SCYLLA_KEYSPACE serve as one (unset = no cluster)',
  },
  advertiseAddress: {
    env: 'BROKER_ADVERTISE_ADDRESS',
    type: optionalText({ pattern: /^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/, says: 'must be host:port' }),
    help: 'host:port the other brokers of the cluster reach this one at',
  },
  peerPort: {
    env: 'BROKER_PEER_PORT',
    type: integer(0, 65535),
    help: "a cluster member with several workers: worker i takes other members' forwarded calls on this port + i, advertised with BROKER_ADVERTISE_ADDRESS's host (0 = any free port)",
  },
  // At least 1 s: the heartbeat that keeps a member live lasts a lease, and CQL TTLs are whole seconds.
  leaseMs: {
    env: 'BROKER_LEASE',
    type: duration(1000),
    help: "how long a broker holds a partition without renewing; a crashed owner's partitions move after this + BROKER_MAX_CLOCK_DRIFT",
  },
  maxClockDriftMs: {
    env: 'BROKER_MAX_CLOCK_DRIFT',
    type: duration(),
    help: "the most any two brokers' clocks may differ (keep NTP running); owners stop appending this long before their lease ends (at most BROKER_LEASE / 4)",
  },
  traceSampleRatio: {
    env: 'BROKER_TRACE_SAMPLE_RATIO',
    type: ratio(),
    help: 'share of new traces recorded and sent over OTLP (0 = tracing off; 0.01 or 1% = one in a hundred; a call that arrives with a sampled traceparent is always traced)',
  },
  authFile: {
    env: 'BROKER_AUTH_FILE',
    type: optionalText(ANY_TEXT),
    help: 'YAML or JSON file of identities (bearer token hashes, JWT issuer, client certificate names), their publish/subscribe/admin rules and quotas; checked at start, re-read on SIGHUP (unset = no authentication)',
  },
  tlsCert: {
    env: 'BROKER_TLS_CERT',
    type: optionalText(ANY_TEXT),
    help: 'PEM certificate (chain) file: gRPC and /metrics serve TLS only, plaintext is refused (needs BROKER_TLS_KEY; re-read when it changes)',
  },
  tlsKey: { env: 'BROKER_TLS_KEY', type: optionalText(ANY_TEXT), help: 'PEM private key file of BROKER_TLS_CERT' },
  tlsClientCa: {
    env: 'BROKER_TLS_CLIENT_CA',
    type: optionalText(ANY_TEXT),
    help: 'PEM CA file: every client (and Prometheus) must present a certificate it signed (mTLS; needs BROKER_TLS_CERT)',
  },
  tlsPeerCa: {
    env: 'BROKER_TLS_PEER_CA',
    type: optionalText(ANY_TEXT),
    help: "PEM CA file the other cluster members' certificates are checked with (their advertised host must be in the certificate's SAN); members present BROKER_TLS_CERT as their client certificate (unset = BROKER_TLS_CLIENT_CA)",
  },
  tlsReloadIntervalMs: {
    env: 'BROKER_TLS_RELOAD_INTERVAL',
    type: duration(100),
    help: 'how often the TLS files are read again; a changed certificate is served to new connections without a restart',
  },
  clusterToken: {
    env: 'BROKER_CLUSTER_TOKEN',
    type: optionalText(SECRET),
    help: 'secret every call forwarded between brokers and workers carries; a call marked forwarded without it is refused UNAUTHENTICATED',
  },
};

/** The config fields in table order. */
export const SETTING_KEYS = Object.keys(SETTING_SPECS) as ReadonlyArray<keyof BrokerConfig>;

/** A setting as `broker serve --help` and the README show it. */
export interface Setting {
  readonly env: string;
  readonly key: keyof BrokerConfig;
  /** The default as a user would write it, or a description in parentheses: "(unset)", "(host name)". */
  readonly default: string;
  readonly help: string;
}

// The broker id's default is the host name of whichever machine runs the broker, so the docs name it, not show one.
const SHOWN_DEFAULTS: BrokerConfig = {
  ...DEFAULTS,
  brokerId: '(host name)',
  advertiseAddress: '(gRPC host:port)',
  metricsHost: '(BROKER_GRPC_HOST)',
  healthHost: '(BROKER_GRPC_HOST)',
};

function describe<K extends keyof BrokerConfig>(key: K): Setting {
  const spec: SettingSpec<BrokerConfig[K]> = SETTING_SPECS[key];
  return { env: spec.env, key, default: spec.type.render(SHOWN_DEFAULTS[key]) ?? '(unset)', help: spec.help };
}

/** The settings, their environment names, defaults and meanings: the source of `broker serve --help` and the README. */
export const SETTINGS: readonly Setting[] = SETTING_KEYS.map(describe);
