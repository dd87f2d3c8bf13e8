/**
 * The closed sets of values a setting can take. Each array is the one spelling of its enum: the config types, the
 * loader's check, the CLI help and the README table are all made from it.
 */

/** BROKER_FSYNC: 'batch' syncs every group commit before acknowledging it; 'never' leaves syncing to the OS. */
export const FSYNC_MODES = ['batch', 'never'] as const;
export type FsyncMode = (typeof FSYNC_MODES)[number];

/**
 * BROKER_ACKS: 'local' acknowledges a publish once it is in the local log (sealed segments reach ScyllaDB in the
 * background); 'replicated' also waits until ScyllaDB has its record at SCYLLA_CONSISTENCY.
 */
export const ACK_MODES = ['local', 'replicated'] as const;
export type AckMode = (typeof ACK_MODES)[number];

/** BROKER_LOG_LEVEL: pino's levels. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** SCYLLA_CONSISTENCY: the CQL consistency levels the cold tier may write and read at (cassandra-driver's names). */
export const SCYLLA_CONSISTENCIES = ['one', 'localOne', 'localQuorum', 'quorum', 'all'] as const;
export type ScyllaConsistency = (typeof SCYLLA_CONSISTENCIES)[number];

/**
 * BROKER_DISCARD: what a size limit (BROKER_MAX_SUBJECT_BYTES, BROKER_MAX_TOTAL_BYTES) does to a publish that would
 * pass it. 'refuse' answers STORAGE_FULL; 'oldest' drops the subject's oldest sealed segments, as JetStream's discard
 * policy 'old' drops its oldest messages.
 */
export const DISCARD_POLICIES = ['refuse', 'oldest'] as const;
export type DiscardPolicy = (typeof DISCARD_POLICIES)[number];
