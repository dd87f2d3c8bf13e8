import type { AckMode, DiscardPolicy, FsyncMode, LogLevel, ScyllaConsistency } from './enums.js';

/**
 * Every setting of the broker, as the loader hands it to the composition root. Durations are in ms and sizes in
 * bytes. Each field's environment variable, default and one-line meaning are in SETTINGS; the defaults themselves
 * are DEFAULTS (the broker id's default is the host name).
 */
export interface BrokerConfig {
  /** BROKER_GRPC_HOST: the address the gRPC server binds. */
  readonly grpcHost: string;
  /** BROKER_GRPC_PORT: 0 = pick a free port. */
  readonly grpcPort: number;
  /** BROKER_METRICS_PORT: 0 = pick a free port, -1 = no metrics endpoint. */
  readonly metricsPort: number;
  /** BROKER_METRICS_HOST: the address the metrics endpoint binds; undefined = BROKER_GRPC_HOST's. */
  readonly metricsHost: string | undefined;
  /** BROKER_HEALTH_PORT: a plaintext port serving only grpc.health.v1 (probes of a TLS broker); -1 = off. */
  readonly healthPort: number;
  /** BROKER_HEALTH_HOST: the address the health port binds (a pod's IP); undefined = BROKER_GRPC_HOST's. */
  readonly healthHost: string | undefined;
  /** BROKER_DATA_DIR: the LevelDB directory. */
  readonly dataDir: string;
  /** BROKER_WORKERS: worker processes sharing the gRPC port and splitting the partitions; 'auto' = usable cores. */
  readonly workers: number | 'auto';
  /** BROKER_PARTITIONS: the partition count of a new data dir; undefined = the data dir's, or 16 for a new one. */
  readonly partitions: number | undefined;
  /** BROKER_FSYNC: whether a group commit is synced before its appends are acknowledged. */
  readonly fsync: FsyncMode;
  /** BROKER_ACKS: whether a publish is acknowledged once local, or once ScyllaDB has it too (README "Ack modes"). */
  readonly acks: AckMode;
  /**
   * BROKER_MAX_REPLICATION_LAG, ms: acks local with a cold tier, publishes are refused (UNAVAILABLE) while the oldest
   * record not yet streamed to it is older than this; 0 = never (README "Ack modes").
   */
  readonly maxReplicationLagMs: number;
  /** BROKER_RETENTION, ms: the subject retention for messages published with expirationSeconds = 0; 0 = for ever. */
  readonly retentionMs: number;
  /** BROKER_MAX_BODY_BYTES, bytes: the largest body a publish may carry. */
  readonly maxBodyBytes: number;
  /** BROKER_MAX_CONNECTIONS: open client connections; one beyond it is closed as it is accepted. */
  readonly maxConnections: number;
  /** BROKER_HANDSHAKE_TIMEOUT, ms: a connection that has not sent the HTTP/2 preface this long after opening is closed. */
  readonly handshakeTimeoutMs: number;
  /** BROKER_MAX_CONNECTION_IDLE, ms: a connection with no call open this long gets a GOAWAY; 0 = never. */
  readonly maxConnectionIdleMs: number;
  /** BROKER_MAX_CONNECTION_AGE, ms: every connection gets a GOAWAY this long after it opened; 0 = never. */
  readonly maxConnectionAgeMs: number;
  /** BROKER_MAX_CONNECTION_AGE_GRACE, ms: calls still open after the age's GOAWAY get this long. */
  readonly maxConnectionAgeGraceMs: number;
  /** BROKER_MAX_SUBJECTS: subjects the broker holds; a publish that would create one more is refused. */
  readonly maxSubjects: number;
  /** BROKER_SEGMENT_MAX_RECORDS: roll a segment after this many records. */
  readonly segmentMaxRecords: number;
  /** BROKER_SEGMENT_MAX_BYTES, bytes: roll a segment after this many body bytes. */
  readonly segmentMaxBytes: number;
  /** BROKER_SEGMENT_MAX_AGE, ms: seal a segment this long after its first record. */
  readonly segmentMaxAgeMs: number;
  /** BROKER_LOCAL_RETENTION, ms: drop replicated segments locally once their last record is this old; 0 = keep. */
  readonly localRetentionMs: number;
  /** BROKER_LOCAL_RETENTION_BYTES, bytes per subject: drop the oldest replicated segments beyond this; 0 = no limit. */
  readonly localRetentionBytes: number;
  /** BROKER_MAX_SUBJECT_BYTES, bytes of bodies stored per subject; 0 = no limit. */
  readonly maxSubjectBytes: number;
  /** BROKER_MAX_TOTAL_BYTES, bytes of bodies stored over all subjects; 0 = no limit. */
  readonly maxTotalBytes: number;
  /** BROKER_DISCARD: what a publish that would pass a size limit gets (refused, or the subject's oldest data dropped). */
  readonly discardPolicy: DiscardPolicy;
  /** BROKER_MIN_FREE_BYTES, bytes: publishes are refused while the data dir's file system has less free; 0 = off. */
  readonly minFreeBytes: number;
  /** BROKER_TAIL_CACHE_RECORDS: recent records kept in memory per active subject for subscribers near the head. */
  readonly tailCacheRecords: number;
  /** BROKER_TAIL_CACHE_BYTES, bytes: memory for all tail caches together. */
  readonly tailCacheBytes: number;
  /** BROKER_LEVELDB_CACHE_BYTES, bytes: LevelDB's block caches of all partitions together (each gets ceil(value / partitions)). */
  readonly levelDbCacheBytes: number;
  /** BROKER_LEVELDB_WRITE_BUFFER_BYTES, bytes: LevelDB's write buffers of all partitions together (split the same way). */
  readonly levelDbWriteBufferBytes: number;
  /** BROKER_SUBJECT_CACHE: per-subject states kept in memory (least recently used are evicted). */
  readonly subjectCacheSize: number;
  /** BROKER_MAX_SUBSCRIBERS: open Subscribe streams allowed on this broker. */
  readonly maxSubscribers: number;
  /** BROKER_MAX_RESPONSE_BYTES, bytes: the largest FetchRange page (max_bytes is clamped to it); also bounds sends. */
  readonly maxResponseBytes: number;
  /** BROKER_SUBSCRIBER_BUFFER_BYTES, bytes: written to Subscribe streams but not yet sent, over all of them. */
  readonly subscriberBufferBytes: number;
  /** BROKER_MAX_INFLIGHT_PUBLISH_BYTES, bytes: publish bodies received but not yet acknowledged, over all calls. */
  readonly maxInflightPublishBytes: number;
  /** BROKER_MAX_STREAMS_PER_CONNECTION: concurrent HTTP/2 streams (calls) one connection may open. */
  readonly maxStreamsPerConnection: number;
  /** BROKER_SHUTDOWN_TIMEOUT, ms: how long a graceful shutdown waits for in-flight calls. */
  readonly shutdownTimeoutMs: number;
  /** BROKER_COMPACTION_INTERVAL, ms: how often compaction (and sealing of stale segments) runs. */
  readonly compactionIntervalMs: number;
  /** BROKER_ID: this broker's name in job queues and metrics; several brokers may share one Redis. */
  readonly brokerId: string;
  /** REDIS_URL: the job queues on Redis (BullMQ); undefined = the queues in memory. */
  readonly redisUrl: string | undefined;
  /** REDIS_USERNAME: the Redis ACL user of the queues; undefined = the URL's, else the default user. */
  readonly redisUsername: string | undefined;
  /** REDIS_PASSWORD: that user's password (or requirepass); undefined = the URL's, else none. */
  readonly redisPassword: string | undefined;
  /** REDIS_TLS_CA: PEM CA file the Redis server's certificate is checked with (rediss:// URLs); undefined = system CAs. */
  readonly redisTlsCa: string | undefined;
  /** BROKER_QUEUE_PREFIX: BullMQ key prefix, so several clusters can share one Redis. */
  readonly queuePrefix: string;
  /** SCYLLA_CONTACT_POINTS: host or host:port of each node; empty = no replication. */
  readonly scyllaContactPoints: readonly string[];
  /** SCYLLA_KEYSPACE: the keyspace the broker creates and uses. */
  readonly scyllaKeyspace: string;
  /** SCYLLA_LOCAL_DC: the local data center for the CQL driver's load balancing. */
  readonly scyllaLocalDc: string;
  /** SCYLLA_REPLICATION_FACTOR: used only when the broker creates the keyspace. */
  readonly scyllaReplicationFactor: number;
  /** SCYLLA_REPLICATION: the keyspace's CQL replication map, overriding the factor; used only when creating it. */
  readonly scyllaReplication: string | undefined;
  /** SCYLLA_CONSISTENCY: consistency of replication writes and cold reads. */
  readonly scyllaConsistency: ScyllaConsistency;
  /** SCYLLA_USERNAME: the CQL role the broker logs in as (PasswordAuthenticator); undefined = no authentication. */
  readonly scyllaUsername: string | undefined;
  /** SCYLLA_PASSWORD: that role's password. */
  readonly scyllaPassword: string | undefined;
  /** SCYLLA_TLS_CA: PEM CA file; set = CQL over TLS, the server's certificate checked with it; undefined = plaintext. */
  readonly scyllaTlsCa: string | undefined;
  /** BROKER_REPLICATION_CONCURRENCY: CQL writes in flight per replication job. */
  readonly replicationConcurrency: number;
  /** BROKER_REPLICATION_JOBS: replication jobs (one sealed segment each) in flight per broker. */
  readonly replicationJobs: number;
  /** BROKER_LOG_LEVEL. */
  readonly logLevel: LogLevel;
  /** BROKER_DEDUPE_WINDOW, ms: a publish repeating an idempotency key within this window gets the first id; 0 = off. */
  readonly dedupeWindowMs: number;
  /** BROKER_ID_RESERVATION: ids reserved in ScyllaDB ahead of a subject's head at a time (a cluster's id reservations). */
  readonly idReservation: number;
  /** BROKER_CLUSTER: the cluster's name; brokers sharing it, the keyspace and the CQL servers form one; undefined = none. */
  readonly cluster: string | undefined;
  /** BROKER_ADVERTISE_ADDRESS: host:port the other brokers reach this one at; undefined = its gRPC host:port. */
  readonly advertiseAddress: string | undefined;
  /**
   * BROKER_PEER_PORT: a cluster member with several workers: worker i takes the other members' forwarded calls on
   * this port + i, advertised with BROKER_ADVERTISE_ADDRESS's host; 0 = any free port.
   */
  readonly peerPort: number;
  /** BROKER_LEASE, ms: how long a claim or renewal of a partition holds it (cluster/README.md). */
  readonly leaseMs: number;
  /** BROKER_MAX_CLOCK_DRIFT, ms: the most any two brokers' clocks may differ, an assumption the leases rely on. */
  readonly maxClockDriftMs: number;
  /** BROKER_TRACE_SAMPLE_RATIO: share of new traces recorded, 0 to 1; 0 = no tracing at all (no spans, no context). */
  readonly traceSampleRatio: number;
  /** BROKER_AUTH_FILE: identities, their permissions and quotas (YAML or JSON); undefined = every call allowed. */
  readonly authFile: string | undefined;
  /** BROKER_TLS_CERT: PEM certificate chain of the gRPC and metrics endpoints; undefined = plaintext. */
  readonly tlsCert: string | undefined;
  /** BROKER_TLS_KEY: PEM private key of BROKER_TLS_CERT. */
  readonly tlsKey: string | undefined;
  /** BROKER_TLS_CLIENT_CA: PEM CA bundle; set = every client must present a certificate it signed (mTLS). */
  readonly tlsClientCa: string | undefined;
  /** BROKER_TLS_PEER_CA: PEM CA bundle the other members' certificates are checked with; undefined = BROKER_TLS_CLIENT_CA. */
  readonly tlsPeerCa: string | undefined;
  /** BROKER_TLS_RELOAD_INTERVAL, ms: how often the TLS files are read again, for a rotation. */
  readonly tlsReloadIntervalMs: number;
  /** BROKER_CLUSTER_TOKEN: the secret every call forwarded between brokers and workers carries; undefined = none. */
  readonly clusterToken: string | undefined;
}
