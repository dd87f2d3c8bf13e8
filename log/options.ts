import type { BrokerConfig, FencedError, FsyncMode, IdReservations, LogObserver, Tracing } from '../core/index.js';
import type { ReplicaSettings } from './replica-commit.js';
import type { ReplicaStreamSettings } from './replica-stream.js';
import type { SharedBudgets } from './shared-budgets.js';
import type { StorageLimitOptions } from './storage-limits.js';
import type { WriteGate } from './write-gate.js';
import type { WriteRetryDelays } from './write-recovery.js';

/** Settings of the LevelDB log. */
export interface LogOptions {
  /** The LevelDB directory (created if missing). */
  readonly dataDir: string;
  /** 'batch': every group commit is synced before its appends are acknowledged. @defaultValue 'batch' */
  readonly fsync: FsyncMode;
  /** Roll a segment after this many records. @defaultValue 100000 */
  readonly segmentMaxRecords: number;
  /** Roll a segment after this many body bytes. @defaultValue 64 MiB */
  readonly segmentMaxBytes: number;
  /** Roll (seal) a segment this many ms after its first record. @defaultValue 1 hour */
  readonly segmentMaxAgeMs: number;
  /** Newest records cached per subject that has cursors. @defaultValue 4096 */
  readonly tailCacheRecords: number;
  /** Bytes of all tail caches together. @defaultValue 64 MiB */
  readonly tailCacheBytes: number;
  /** LevelDB's block cache of this database, bytes (a partitioned log: of all partitions). @defaultValue level's 8 MiB */
  readonly levelDbCacheBytes?: number;
  /** LevelDB's write buffer of this database, bytes (a partitioned log: of all partitions). @defaultValue level's 4 MiB */
  readonly levelDbWriteBufferBytes?: number;
  /** Subject states kept in memory; idle ones beyond this are evicted (least recently used first). @defaultValue 100000 */
  readonly subjectCacheSize: number;
  /** Subjects the log may hold; an append that would create one more is refused (SubjectLimitError). @defaultValue no limit */
  readonly maxSubjects?: number;
  /**
   * An append repeating an idempotency key on its subject within this many ms gets the first append's offset
   * (dedupe.ts); 0 = keys are ignored. @defaultValue 0
   */
  readonly dedupeWindowMs?: number;
  readonly observer?: LogObserver;
  /** Spans of group commits carrying traced appends (core/tracing.ts); undefined = tracing off. @defaultValue off */
  readonly tracing?: Tracing;
  /** The clock, in ms since the epoch (tests inject one). @defaultValue Date.now */
  readonly now?: () => number;
  /** Backoff of the recovery attempts after a failed write (tests shorten it). @defaultValue 1 s doubling to 30 s */
  readonly writeRetry?: WriteRetryDelays;
  /** Size limits, the discard policy and the free-space floor (storage-limits.ts). @defaultValue none */
  readonly limits?: StorageLimitOptions;
  /**
   * Budgets shared with other logs (the partitions of a data dir, log/partitions/): the tail cache's bytes, the
   * subject count and the stored bytes and free space. When given, its limits are the ones that hold (the matching
   * fields above only describe them). @defaultValue this log's own, from the fields above
   */
  readonly shared?: SharedBudgets;
  /** Files LevelDB may hold open (its table cache and about 10 more). @defaultValue LEVELDB_MAX_OPEN_FILES */
  readonly maxOpenFiles?: number;
  /**
   * Id reservations in a store shared by the cluster (issue 13, log/README "Id reservations"): ids are reserved
   * there before they are acknowledged, and at open this log continues every subject above its reservation, so an
   * id is never reissued after a lost disk or a change of owner. The open fails (UnavailableError) when the store
   * cannot be read; an append whose reservation cannot be written is refused (UnavailableError).
   * @defaultValue none: ids continue from the local disk only
   */
  readonly idReservations?: IdReservations;
  /** The partition whose reservations this log keeps (PartitionedLog sets each partition's). @defaultValue 0 */
  readonly partition?: number;
  /** BROKER_ID_RESERVATION: ids reserved ahead of a subject's head at a time. @defaultValue 10000 */
  readonly idReservationChunk?: number;
  /**
   * The lease epoch this process owns the partition at (a cluster member's, PartitionedLog.acquire): the fencing
   * token of the id reservations. At open the log fences the partition's reservations at it before reading them,
   * and every raise and settle carries it, so once a newer owner has fenced the partition, this log's are refused
   * (FencedError, NOT_OWNER) and it acknowledges nothing more above its reservations (core/id-reservations.ts).
   * @defaultValue 0: a broker alone, which fences nothing
   */
  readonly epoch?: number;
  /**
   * Hears that a raise of the id reservations was refused as fenced (FencedError): the appends were refused
   * NOT_OWNER and the log refuses every later write (instead of recovering, as after another failed write); a
   * PartitionedLog gives the partition up. @defaultValue none: the log recovers as after a failed write, and is
   * refused again by the fence
   */
  readonly onFenced?: (err: FencedError) => void;
  /**
   * The partition was released by its last owner after a clean hand-over (PartitionedLog.acquire): the ids the
   * reservation pass finds above this disk's heads were that owner's, flushed to the cold tier, and are reported
   * as handed over (observer.idsHandedOver), not as lost. @defaultValue false: reported as lost (a crash)
   */
  readonly handedOver?: boolean;
  /**
   * BROKER_ACKS=replicated (log/README "Replicated acks"): every group commit's records are written to the cold tier
   * before its appends are acknowledged; an append whose records cannot be written is refused (UnavailableError)
   * and the log fails closed and recovers as after a failed disk write. @defaultValue none: acks are local
   */
  readonly replica?: ReplicaSettings;
  /**
   * BROKER_ACKS=local with a cold tier (log/README "Streamed acks"): acknowledged records are streamed to the cold
   * tier behind the acks, the lag is reported (its board) and, with a bound, appends are refused above it.
   * Ignored with `replica`. @defaultValue none: only sealed segments reach the cold tier (the replication job)
   */
  readonly replicaStream?: ReplicaStreamSettings;
  /**
   * Asked just before each group commit of appends is written (PartitionedLog: the lease, PartitionedLogOptions.
   * leaseGate): appends admitted under the lease can wait for their batch past its end (queued behind the batch
   * being written, or in a process paused past its lease), and written then they would land beside the next
   * owner's. An error refuses the batch unwritten (its appends get that error) and the log recovers as after a
   * failed write. @defaultValue none: every batch is written
   */
  readonly writeGate?: WriteGate;
}

/**
 * Settings of the partitioned log (log/partitions/): a LevelDbLog's settings for the whole data dir (the budgets
 * that are totals stay totals: each partition gets its part), and which partitions this process opens.
 */
export interface PartitionedLogOptions extends LogOptions {
  /**
   * The partition count of a new data dir; set and different from the dir's, the open is refused (ConfigError).
   * @defaultValue the dir's, or DEFAULT_PARTITIONS for a new one
   */
  readonly partitions?: number;
  /** The partitions this process opens and serves; a subject in another one gets NotOwnerError. @defaultValue all */
  readonly owned?: readonly number[];
  /** The owner a NotOwnerError names for a partition this process does not own. @defaultValue 'another worker' */
  readonly ownerName?: (partition: number) => string;
  /**
   * Whether appends to an owned partition may go on now: a cluster member's lease (cluster/LeaseKeeper.canAppend),
   * false from before the lease can expire, so a member that cannot renew stops appending in time. A refused append
   * gets NotOwnerError. Given, the partitions come and go while the log is open, so the budgets that are totals
   * (BROKER_MAX_SUBJECTS, ...) are this process's whole, not the share of the partitions it owns at open.
   * @defaultValue always
   */
  readonly appendGate?: (partition: number) => boolean;
  /**
   * Whether the partition's lease is still held safely (a cluster member's: lease end - drift - safety, as
   * appendGate reckons it, but also true while the partition is handed over, whose seal writes what was admitted):
   * asked again as each group commit of appends is written, which is refused with NotOwnerError when it says no
   * (LogOptions.writeGate). @defaultValue none: a batch admitted is written
   */
  readonly leaseGate?: (partition: number) => boolean;
}

export function logOptionsFromConfig(
  config: BrokerConfig,
  observer?: LogObserver,
  tracing?: Tracing,
): PartitionedLogOptions {
  return {
    dataDir: config.dataDir,
    ...(config.partitions === undefined ? {} : { partitions: config.partitions }),
    fsync: config.fsync,
    segmentMaxRecords: config.segmentMaxRecords,
    segmentMaxBytes: config.segmentMaxBytes,
    segmentMaxAgeMs: config.segmentMaxAgeMs,
    tailCacheRecords: config.tailCacheRecords,
    tailCacheBytes: config.tailCacheBytes,
    levelDbCacheBytes: config.levelDbCacheBytes,
    levelDbWriteBufferBytes: config.levelDbWriteBufferBytes,
    subjectCacheSize: config.subjectCacheSize,
    maxSubjects: config.maxSubjects,
    dedupeWindowMs: config.dedupeWindowMs,
    idReservationChunk: config.idReservation,
    limits: {
      maxSubjectBytes: config.maxSubjectBytes,
      maxTotalBytes: config.maxTotalBytes,
      discard: config.discardPolicy,
      minFreeBytes: config.minFreeBytes,
    },
    ...(observer === undefined ? {} : { observer }),
    ...(tracing === undefined ? {} : { tracing }),
  };
}
