import type { LogRecord } from './record.js';
import type { SegmentInfo } from './segment.js';

/** A segment by its key: what a replication job carries and what the scans page by. */
export interface SegmentRef {
  readonly subject: string;
  readonly baseOffset: number;
}

/** A page of segments across subjects, in (subject, baseOffset) order, after `after` (exclusive). */
export interface SegmentQuery {
  readonly limit: number;
  readonly after?: SegmentRef;
}

/** What a deletion removed. */
export interface Removed {
  readonly records: number;
  readonly bytes: number;
}

/**
 * Segment maintenance of the local log, for retention (compaction) and tiering (replication): scans, one segment's
 * records, sealing, marking replicated, deleting. It owns keeping segment metadata in step with the records; it
 * excludes policy (what expires, what to copy when: retention/ and tiering/ decide) and the read path of clients.
 * Operations that need a sealed segment throw SegmentNotSealedError on an active one.
 */
export interface SegmentStore {
  /** One segment's metadata, or undefined when it does not exist (never did, or was deleted). */
  segment(ref: SegmentRef): Promise<SegmentInfo | undefined>;
  /** A subject's segments in offset order. */
  segments(subject: string): Promise<SegmentInfo[]>;
  /** Sealed segments not yet replicated, oldest first across subjects. */
  unreplicatedSegments(query: SegmentQuery): Promise<SegmentInfo[]>;
  /** Every segment of every subject, for the compaction sweep. */
  allSegments(query: SegmentQuery): Promise<SegmentInfo[]>;
  /** The records of one segment still stored, in batches, in offset order. */
  readSegment(ref: SegmentRef, batchSize?: number): AsyncIterable<LogRecord[]>;
  /** Records that the segment's rows are all in the cold tier. */
  markReplicated(ref: SegmentRef): Promise<void>;
  /** Seals active segments older than the configured maximum age; returns what it sealed. */
  sealStaleSegments(nowMs: number): Promise<SegmentInfo[]>;
  /** Calls the listener whenever a segment is sealed (by a roll or by sealStaleSegments). Returns an unsubscribe. */
  onSegmentSealed(listener: (segment: SegmentInfo) => void): () => void;
  /** Deletes a sealed segment with all its records; the subject's first offset advances past it if it was first. */
  deleteSegment(ref: SegmentRef): Promise<Removed>;
  /** Deletes the records of a sealed segment that `isExpired` says are gone, keeping segment metadata in step. */
  deleteRecords(ref: SegmentRef, isExpired: (record: LogRecord) => boolean): Promise<Removed>;
  /** Deletes the idempotency keys whose dedupe window ended by `nowMs`; returns how many it deleted. */
  expireIdempotencyKeys(nowMs: number): Promise<number>;
}
