import type { BrokerConfig } from './broker-config.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const SECOND = 1000;
const HOUR = 3600 * SECOND;

/**
 * The default of every setting, as typed values (ms, bytes). The one place a default is written: the loader falls
 * back to it, and SETTINGS renders it for `broker serve --help` and the README. The broker id has no constant
 * default (it is the host name), so a test builds a whole config as `{ ...DEFAULTS, brokerId: 'b0' }`.
 */
export const DEFAULTS: Readonly<Omit<BrokerConfig, 'brokerId'>> = {
  grpcHost: '0.0.0.0',
  grpcPort: 50051,
  metricsPort: 9464,
  dataDir: './data',
  workers: 1,
  partitions: undefined,
  fsync: 'batch',
  acks: 'local',
  retentionMs: 7 * 24 * HOUR,
  maxBodyBytes: 1 * MiB,
  maxConnections: 10_000,
  handshakeTimeoutMs: 10 * SECOND,
  maxConnectionIdleMs: 30 * 60 * SECOND,
  maxConnectionAgeMs: 0,
  maxConnectionAgeGraceMs: 30 * SECOND,
  maxSubjects: 1_000_000,
  segmentMaxRecords: 100_000,
  segmentMaxBytes: 64 * MiB,
  segmentMaxAgeMs: 1 * HOUR,
  localRetentionMs: 0,
  localRetentionBytes: 0,
  maxSubjectBytes: 0,
  maxTotalBytes: 0,
  discardPolicy: 'refuse',
  minFreeBytes: 64 * MiB,
  tailCacheRecords: 4096,
  tailCacheBytes: 64 * MiB,
  subjectCacheSize: 10_000,
  maxSubscribers: 100_000,
  maxResponseBytes: 4 * MiB,
  subscriberBufferBytes: 64 * MiB,
  maxInflightPublishBytes: 256 * MiB,
  maxStreamsPerConnection: 1000,
  shutdownTimeoutMs: 8 * SECOND,
  compactionIntervalMs: 60 * SECOND,
  redisUrl: undefined,
  redisUsername: undefined,
  redisPassword: undefined,
  redisTlsCa: undefined,
  queuePrefix: 'broker',
  scyllaContactPoints: [],
  scyllaKeyspace: 'broker',
  scyllaLocalDc: 'datacenter1',
  scyllaReplicationFactor: 1,
  scyllaReplication: undefined,
  scyllaConsistency: 'localQuorum',
  scyllaUsername: undefined,
  scyllaPassword: undefined,
  scyllaTlsCa: undefined,
  replicationConcurrency: 64,
  replicationJobs: 2,
  logLevel: 'info',
  dedupeWindowMs: 120 * SECOND,
  idReservation: 10_000,
  cluster: undefined,
  advertiseAddress: undefined,
  peerPort: 0,
  leaseMs: 10 * SECOND,
  maxClockDriftMs: 500,
  traceSampleRatio: 0,
};
