import type { LogRecord } from './record.js';
import type { ReadLimits } from './read-limits.js';
import type { SegmentInfo } from './segment.js';

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
  get(subject: string, offset: number): Promise<LogRecord | undefined>;
  /** Records with offset in [fromOffset, beforeOffset) in order, within the limits. */
  readRange(subject: string, fromOffset: number, beforeOffset: number, limits: ReadLimits): Promise<LogRecord[]>;
  close(): Promise<void>;
}
