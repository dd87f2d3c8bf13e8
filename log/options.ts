import type { BrokerConfig, FsyncMode, LogObserver } from '../core/index.js';
import type { StorageLimitOptions } from './storage-limits.js';
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
  /** The clock, in ms since the epoch (tests inject one). @defaultValue Date.now */
  readonly now?: () => number;
  /** Backoff of the recovery attempts after a failed write (tests shorten it). @defaultValue 1 s doubling to 30 s */
  readonly writeRetry?: WriteRetryDelays;
  /** Size limits, the discard policy and the free-space floor (storage-limits.ts). @defaultValue none */
  readonly limits?: StorageLimitOptions;
}

export function logOptionsFromConfig(config: BrokerConfig, observer?: LogObserver): LogOptions {
  return {
    dataDir: config.dataDir,
    fsync: config.fsync,
    segmentMaxRecords: config.segmentMaxRecords,
    segmentMaxBytes: config.segmentMaxBytes,
    segmentMaxAgeMs: config.segmentMaxAgeMs,
    tailCacheRecords: config.tailCacheRecords,
    tailCacheBytes: config.tailCacheBytes,
    subjectCacheSize: config.subjectCacheSize,
    maxSubjects: config.maxSubjects,
    dedupeWindowMs: config.dedupeWindowMs,
    limits: {
      maxSubjectBytes: config.maxSubjectBytes,
      maxTotalBytes: config.maxTotalBytes,
      discard: config.discardPolicy,
      minFreeBytes: config.minFreeBytes,
    },
    ...(observer === undefined ? {} : { observer }),
  };
}
