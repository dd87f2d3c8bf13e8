import type { LogRecord } from './record.js';
import type { ReadLimits } from './read-limits.js';
import type { SegmentInfo } from './segment.js';

/** The records one group commit appends to one active segment: consecutive offsets, all from `baseOffset` on. */
export interface CommitSegment {
  readonly subject: string;
  /** The active segment's first offset (the cold tier keys the rows by it). */
  readonly baseOffset: number;
  readonly records: readonly LogRecord[];
}

/**
 * The cold tier (ScyllaDB): sealed segments copied out of the local log, which serves offsets that local retention
 * has removed. Rows carry the record's remaining TTL, so expired records vanish from it by themselves.
 * It excludes deciding what to replicate (the replication job) and judging expiry (callers use core/expiry).
 */
export interface ColdStore {
  /** Writes a segment's records idempotently (a retry writes the same rows); resolves once all are acknowledged. */
  writeSegment(
    segment: SegmentInfo,
    records: AsyncIterable<LogRecord[]>,
    retentionMs: number,
  ): Promise<{ rows: number; bytes: number }>;
  /**
   * BROKER_ACKS=replicated: writes the records one group commit appends to ACTIVE (not yet sealed) segments, before
   * they are acknowledged, and marks each segment readable up to its last record, so get and readRange find them by
   * id as they find a sealed segment's. Resolves once the store has acknowledged every row (rejects when it cannot
   * say so: then some, none or all were written). Idempotent; a later writeSegment of the sealed segment replaces
   * what this wrote with the same rows.
   */
  writeCommit(segments: readonly CommitSegment[], retentionMs: number): Promise<void>;
  get(subject: string, offset: number): Promise<LogRecord | undefined>;
  /** Records with offset in [fromOffset, beforeOffset) in order, within the limits. */
  readRange(subject: string, fromOffset: number, beforeOffset: number, limits: ReadLimits): Promise<LogRecord[]>;
  close(): Promise<void>;
}
