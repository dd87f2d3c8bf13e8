import { hostname } from 'node:os';
import envVar from 'env-var';
import ms from 'ms';
import { ConfigError } from './errors.js';

export type FsyncMode = 'batch' | 'never';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** Every setting of the broker. Durations in ms, sizes in bytes. */
export interface BrokerConfig {
  /** BROKER_GRPC_HOST. @defaultValue '0.0.0.0' */
  readonly grpcHost: string;
  /** BROKER_GRPC_PORT (0 = pick a free port). @defaultValue 50051 */
  readonly grpcPort: number;
  /** BROKER_METRICS_PORT; 0 = pick a free port, -1 = no metrics endpoint. @defaultValue 9464 */
  readonly metricsPort: number;
  /** BROKER_DATA_DIR: the LevelDB directory. @defaultValue './data' */
  readonly dataDir: string;
  /** BROKER_FSYNC: 'batch' syncs every group commit before acknowledging it; 'never' leaves it to the OS. @defaultValue 'batch' */
  readonly fsync: FsyncMode;
  /** BROKER_RETENTION: the subject retention for messages published with expirationSeconds = 0; 0 = for ever. @defaultValue 7 days */
  readonly retentionMs: number;
  /** BROKER_MAX_BODY_BYTES. @defaultValue 1 MiB */
  readonly maxBodyBytes: number;
  /** BROKER_SEGMENT_MAX_RECORDS: roll a segment after this many records. @defaultValue 100000 */
  readonly segmentMaxRecords: number;
  /** BROKER_SEGMENT_MAX_BYTES: roll a segment after this many body bytes. @defaultValue 64 MiB */
  readonly segmentMaxBytes: number;
  /** BROKER_SEGMENT_MAX_AGE: roll (seal) a segment this long after its first record. @defaultValue 1 hour */
  readonly segmentMaxAgeMs: number;
  /** BROKER_LOCAL_RETENTION: delete replicated segments locally once their last record is this old; 0 = keep until expiry. @defaultValue 0 */
  readonly localRetentionMs: number;
  /** BROKER_LOCAL_RETENTION_BYTES: per subject, delete the oldest replicated segments beyond this size; 0 = no limit. @defaultValue 0 */
  readonly localRetentionBytes: number;
  /** BROKER_TAIL_CACHE_RECORDS: recent records kept in memory per active subject for subscribers near the head. @defaultValue 4096 */
  readonly tailCacheRecords: number;
  /** BROKER_TAIL_CACHE_BYTES: memory for all tail caches together. @defaultValue 64 MiB */
  readonly tailCacheBytes: number;
  /** BROKER_SUBJECT_CACHE: per-subject states kept in memory (least recently used are evicted). @defaultValue 100000 */
  readonly subjectCacheSize: number;
  /** BROKER_MAX_SUBSCRIBERS: open Subscribe streams allowed on this broker. @defaultValue 100000 */
  readonly maxSubscribers: number;
  /** BROKER_SHUTDOWN_TIMEOUT: how long a graceful shutdown waits for in-flight calls. @defaultValue 8 s */
  readonly shutdownTimeoutMs: number;
  /** BROKER_COMPACTION_INTERVAL: how often compaction (and sealing of stale segments) runs. @defaultValue 60 s */
  readonly compactionIntervalMs: number;
  /** BROKER_ID: this broker's name in job queues and metrics; several brokers may share one Redis. @defaultValue the host name */
  readonly brokerId: string;
  /** REDIS_URL: BullMQ jobs on Redis; unset = the in-process job runner. */
  readonly redisUrl: string | undefined;
  /** BROKER_QUEUE_PREFIX: BullMQ key prefix, so several clusters can share one Redis. @defaultValue 'broker' */
  readonly queuePrefix: string;
  /** SCYLLA_CONTACT_POINTS: host:port,...; unset = no replication. */
  readonly scyllaContactPoints: readonly string[];
  /** SCYLLA_KEYSPACE. @defaultValue 'broker' */
  readonly scyllaKeyspace: string;
  /** SCYLLA_LOCAL_DC. @defaultValue 'datacenter1' */
  readonly scyllaLocalDc: string;
  /** SCYLLA_REPLICATION_FACTOR: used when the broker creates the keyspace. @defaultValue 1 */
  readonly scyllaReplicationFactor: number;
  /** SCYLLA_CONSISTENCY: consistency of replication writes and cold reads. @defaultValue 'localQuorum' */
  readonly scyllaConsistency: 'one' | 'localOne' | 'localQuorum' | 'quorum' | 'all';
  /** BROKER_REPLICATION_CONCURRENCY: CQL writes in flight per replication job. @defaultValue 64 */
  readonly replicationConcurrency: number;
  /** BROKER_LOG_LEVEL. @defaultValue 'info' */
  readonly logLevel: LogLevel;
}

/** The settings, their environment names and what they mean: the source of `broker --help` and the README table. */
export const SETTINGS: ReadonlyArray<{ env: string; key: keyof BrokerConfig; default: string; help: string }> = [
  { env: 'BROKER_GRPC_HOST', key: 'grpcHost', default: '0.0.0.0', help: 'address the gRPC server binds' },
  { env: 'BROKER_GRPC_PORT', key: 'grpcPort', default: '50051', help: 'gRPC port (0 = any free port)' },
  {
    env: 'BROKER_METRICS_PORT',
    key: 'metricsPort',
    default: '9464',
    help: 'Prometheus /metrics port (0 = any free port, -1 = off)',
  },
  { env: 'BROKER_DATA_DIR', key: 'dataDir', default: './data', help: 'LevelDB directory' },
  {
    env: 'BROKER_FSYNC',
    key: 'fsync',
    default: 'batch',
    help: 'batch: fsync every group commit before acking; never: leave it to the OS',
  },
  {
    env: 'BROKER_RETENTION',
    key: 'retentionMs',
    default: '7d',
    help: 'subject retention for messages without expiration (e.g. 7d, 12h, 3600 = seconds; 0 = for ever)',
  },
  { env: 'BROKER_MAX_BODY_BYTES', key: 'maxBodyBytes', default: '1048576', help: 'largest message body accepted' },
  {
    env: 'BROKER_SEGMENT_MAX_RECORDS',
    key: 'segmentMaxRecords',
    default: '100000',
    help: 'roll a segment after this many records',
  },
  {
    env: 'BROKER_SEGMENT_MAX_BYTES',
    key: 'segmentMaxBytes',
    default: '67108864',
    help: 'roll a segment after this many body bytes',
  },
  {
    env: 'BROKER_SEGMENT_MAX_AGE',
    key: 'segmentMaxAgeMs',
    default: '1h',
    help: 'seal a segment this long after its first record',
  },
  {
    env: 'BROKER_LOCAL_RETENTION',
    key: 'localRetentionMs',
    default: '0',
    help: 'drop replicated segments locally after this age (0 = keep until expiry)',
  },
  {
    env: 'BROKER_LOCAL_RETENTION_BYTES',
    key: 'localRetentionBytes',
    default: '0',
    help: 'per subject, drop oldest replicated segments beyond this size (0 = no limit)',
  },
  {
    env: 'BROKER_TAIL_CACHE_RECORDS',
    key: 'tailCacheRecords',
    default: '4096',
    help: 'recent records cached per active subject for subscribers',
  },
  {
    env: 'BROKER_TAIL_CACHE_BYTES',
    key: 'tailCacheBytes',
    default: '67108864',
    help: 'memory for all tail caches together',
  },
  {
    env: 'BROKER_SUBJECT_CACHE',
    key: 'subjectCacheSize',
    default: '100000',
    help: 'per-subject states kept in memory (LRU)',
  },
  { env: 'BROKER_MAX_SUBSCRIBERS', key: 'maxSubscribers', default: '100000', help: 'open Subscribe streams allowed' },
  {
    env: 'BROKER_SHUTDOWN_TIMEOUT',
    key: 'shutdownTimeoutMs',
    default: '8s',
    help: 'graceful shutdown wait for in-flight calls',
  },
  {
    env: 'BROKER_COMPACTION_INTERVAL',
    key: 'compactionIntervalMs',
    default: '60s',
    help: 'how often compaction and stale-segment sealing run',
  },
  { env: 'BROKER_ID', key: 'brokerId', default: '(host name)', help: "this broker's name in job queues and metrics" },
  { env: 'REDIS_URL', key: 'redisUrl', default: '', help: 'Redis for BullMQ jobs (unset = in-process job runner)' },
  { env: 'BROKER_QUEUE_PREFIX', key: 'queuePrefix', default: 'broker', help: 'BullMQ key prefix' },
  {
    env: 'SCYLLA_CONTACT_POINTS',
    key: 'scyllaContactPoints',
    default: '',
    help: 'ScyllaDB/Cassandra host:port,... (unset = no replication)',
  },
  { env: 'SCYLLA_KEYSPACE', key: 'scyllaKeyspace', default: 'broker', help: 'keyspace the broker creates and uses' },
  {
    env: 'SCYLLA_LOCAL_DC',
    key: 'scyllaLocalDc',
    default: 'datacenter1',
    help: 'local data center for the CQL driver',
  },
  {
    env: 'SCYLLA_REPLICATION_FACTOR',
    key: 'scyllaReplicationFactor',
    default: '1',
    help: 'replication factor when creating the keyspace',
  },
  {
    env: 'SCYLLA_CONSISTENCY',
    key: 'scyllaConsistency',
    default: 'localQuorum',
    help: 'one | localOne | localQuorum | quorum | all',
  },
  {
    env: 'BROKER_REPLICATION_CONCURRENCY',
    key: 'replicationConcurrency',
    default: '64',
    help: 'CQL writes in flight per replication job',
  },
  {
    env: 'BROKER_LOG_LEVEL',
    key: 'logLevel',
    default: 'info',
    help: 'fatal | error | warn | info | debug | trace | silent',
  },
];

/** Parses a duration: a plain integer is seconds, otherwise a unit is required (ms, s, m, h, d). */
export function parseDuration(variable: string, raw: string): number {
  const text = raw.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (!/^\d+(\.\d+)?\s*[a-z]+$/i.test(text)) {
    throw new ConfigError(variable, `"${raw}" is not a duration (examples: 30s, 15m, 12h, 7d, or a number of seconds)`);
  }
  const value = ms(text as ms.StringValue);
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new ConfigError(variable, `"${raw}" is not a duration (examples: 30s, 15m, 12h, 7d, or a number of seconds)`);
  }
  return Math.round(value);
}

type Env = Readonly<Record<string, string | undefined>>;

function defaultOf(env: string): string {
  const s = SETTINGS.find((x) => x.env === env);
  if (s === undefined) throw new Error(`no setting ${env}`);
  return s.default;
}

/**
 * Reads and validates the configuration from an environment (process.env, or flags merged into one).
 * Throws ConfigError naming the variable and the rule it breaks.
 */
export function loadConfig(env: Env): BrokerConfig {
  const from = envVar.from(env as NodeJS.ProcessEnv);
  const wrap = <T>(variable: string, read: () => T): T => {
    try {
      return read();
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      const message = err instanceof Error ? err.message.replace(/^env-var: /, '') : String(err);
      throw new ConfigError(variable, message, { cause: err });
    }
  };
  const int = (name: string, min: number, max = Number.MAX_SAFE_INTEGER): number =>
    wrap(name, () => {
      const v = from.get(name).default(defaultOf(name)).asInt();
      if (v < min || v > max) throw new ConfigError(name, `${v} is out of range [${min}, ${max}]`);
      return v;
    });
  const duration = (name: string): number =>
    wrap(name, () => parseDuration(name, from.get(name).default(defaultOf(name)).asString()));
  const str = (name: string): string => wrap(name, () => from.get(name).default(defaultOf(name)).asString());
  const optional = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v === undefined || v === '' ? undefined : v;
  };

  const contactPoints = (optional('SCYLLA_CONTACT_POINTS') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  for (const cp of contactPoints) {
    if (!/^[A-Za-z0-9.\-_[\]:]+(:\d{1,5})?$/.test(cp)) {
      throw new ConfigError('SCYLLA_CONTACT_POINTS', `"${cp}" is not host or host:port`);
    }
  }
  const redisUrl = optional('REDIS_URL');
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) {
    throw new ConfigError('REDIS_URL', `"${redisUrl}" must start with redis:// or rediss://`);
  }

  const config: BrokerConfig = {
    grpcHost: str('BROKER_GRPC_HOST'),
    grpcPort: int('BROKER_GRPC_PORT', 0, 65535),
    metricsPort: int('BROKER_METRICS_PORT', -1, 65535),
    dataDir: str('BROKER_DATA_DIR'),
    fsync: wrap('BROKER_FSYNC', () => from.get('BROKER_FSYNC').default('batch').asEnum(['batch', 'never'])),
    retentionMs: duration('BROKER_RETENTION'),
    maxBodyBytes: int('BROKER_MAX_BODY_BYTES', 1, 64 * 1024 * 1024),
    segmentMaxRecords: int('BROKER_SEGMENT_MAX_RECORDS', 1),
    segmentMaxBytes: int('BROKER_SEGMENT_MAX_BYTES', 1),
    segmentMaxAgeMs: duration('BROKER_SEGMENT_MAX_AGE'),
    localRetentionMs: duration('BROKER_LOCAL_RETENTION'),
    localRetentionBytes: int('BROKER_LOCAL_RETENTION_BYTES', 0),
    tailCacheRecords: int('BROKER_TAIL_CACHE_RECORDS', 0),
    tailCacheBytes: int('BROKER_TAIL_CACHE_BYTES', 0),
    subjectCacheSize: int('BROKER_SUBJECT_CACHE', 16),
    maxSubscribers: int('BROKER_MAX_SUBSCRIBERS', 1),
    shutdownTimeoutMs: duration('BROKER_SHUTDOWN_TIMEOUT'),
    compactionIntervalMs: duration('BROKER_COMPACTION_INTERVAL'),
    brokerId: wrap('BROKER_ID', () => {
      const id = optional('BROKER_ID') ?? hostname();
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(id))
        throw new ConfigError('BROKER_ID', `"${id}" must be 1-63 letters, digits, '.', '_' or '-'`);
      return id;
    }),
    redisUrl,
    queuePrefix: str('BROKER_QUEUE_PREFIX'),
    scyllaContactPoints: contactPoints,
    scyllaKeyspace: str('SCYLLA_KEYSPACE'),
    scyllaLocalDc: str('SCYLLA_LOCAL_DC'),
    scyllaReplicationFactor: int('SCYLLA_REPLICATION_FACTOR', 1, 10),
    scyllaConsistency: wrap('SCYLLA_CONSISTENCY', () =>
      from.get('SCYLLA_CONSISTENCY').default('localQuorum').asEnum(['one', 'localOne', 'localQuorum', 'quorum', 'all']),
    ),
    replicationConcurrency: int('BROKER_REPLICATION_CONCURRENCY', 1, 4096),
    logLevel: wrap('BROKER_LOG_LEVEL', () =>
      from
        .get('BROKER_LOG_LEVEL')
        .default('info')
        .asEnum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    ),
  };
  return checkConsistency(config);
}

function checkConsistency(config: BrokerConfig): BrokerConfig {
  if (!/^[a-z][a-z0-9_]{0,47}$/.test(config.scyllaKeyspace)) {
    throw new ConfigError(
      'SCYLLA_KEYSPACE',
      `"${config.scyllaKeyspace}" must be lower-case letters, digits and _ (at most 48), starting with a letter`,
    );
  }
  if (config.compactionIntervalMs < 100) {
    throw new ConfigError('BROKER_COMPACTION_INTERVAL', 'must be at least 100ms');
  }
  if (config.segmentMaxAgeMs < 1) {
    throw new ConfigError('BROKER_SEGMENT_MAX_AGE', 'must be greater than 0');
  }
  if ((config.localRetentionMs > 0 || config.localRetentionBytes > 0) && config.scyllaContactPoints.length === 0) {
    throw new ConfigError(
      'BROKER_LOCAL_RETENTION',
      'a local retention limit drops replicated segments, so it needs SCYLLA_CONTACT_POINTS (otherwise nothing is ever replicated)',
    );
  }
  return config;
}
