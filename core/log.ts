import type { AppendInput, LogRecord } from './record.js';
import type { SegmentInfo } from './segment.js';
import type { SubjectInfo } from './subject-info.js';

/** What a read by offset found. */
export type LookupResult =
  | { readonly kind: 'record'; readonly record: LogRecord }
  /** 1 <= offset <= lastOffset but the record is gone (expired and compacted, or removed by local retention). */
  | { readonly kind: 'removed'; readonly firstOffset: number }
  /** offset < 1, offset > lastOffset, or a subject that was never published to. */
  | { readonly kind: 'never'; readonly lastOffset: number };

export interface ReadLimits {
  /** At most this many records. */
  readonly maxRecords: number;
  /** Stop once this many body bytes are read (at least one record is always returned if there is one). */
  readonly maxBytes: number;
}

/**
 * A subscriber's cursor into one subject's log: it delivers records in offset order from its position, first from
 * storage (replay), then live as they are appended, waiting without polling. Close it when the subscriber goes.
 */
export interface TailCursor extends AsyncIterable<readonly LogRecord[]> {
  readonly subject: string;
  /** The next offset this cursor will deliver. */
  readonly position: number;
  /** Acknowledged records not yet delivered to this cursor. */
  lag(): number;
  /**
   * Whether the records of the last batch are shared with the subject's other cursors (read from memory they all
   * use, the same objects): work done per record, such as encoding it for the wire, can then be done once for all.
   */
  readonly lastBatchShared: boolean;
  /**
   * The next batch of at least one record in offset order, waiting for appends if there are none;
   * an empty batch once the cursor (or the log) is closed.
   */
  next(maxRecords?: number): Promise<readonly LogRecord[]>;
  close(): void;
}

/** Receives the log's own measurements (the api wires it to Prometheus). All durations in seconds. */
export interface LogObserver {
  batchWritten(records: number, bytes: number, writeSeconds: number, synced: boolean): void;
  appendAcknowledged(latencySeconds: number): void;
}

/**
 * The segmented, append-only, per-subject log. It owns offsets, segments, durability (group commit) and reads.
 * It deliberately excludes expiry policy (callers judge expiry with core/expiry at read time and decide what
 * compaction deletes), validation of client input (done at the edge), and the cold tier.
 */
export interface Log {
  /** Appends one record; resolves with its offset once it is durably in the log (group-committed with others). */
  append(input: AppendInput): Promise<number>;
  /** Appends several records to one subject in one go; resolves with their offsets, consecutive, in input order. */
  appendMany(inputs: readonly AppendInput[]): Promise<number[]>;

  get(subject: string, offset: number): Promise<LookupResult>;
  /** Stored records with offset >= fromOffset in order, within the limits. Removed offsets are skipped. */
  readRange(subject: string, fromOffset: number, limits: ReadLimits): Promise<LogRecord[]>;
  /**
   * A cursor from `from` ('live': the next offset to be assigned now, so only later appends are delivered).
   * A numeric start below the first stored offset starts at the first stored one. Throws InvalidIdError when
   * from > lastOffset + 1.
   */
  tail(subject: string, from: number | 'live'): Promise<TailCursor>;

  subjectInfo(subject: string): Promise<SubjectInfo | undefined>;
  /** Subjects in byte order of their UTF-8, after `after` (exclusive), starting with `prefix`. */
  listSubjects(options: { prefix?: string; after?: string; limit: number }): Promise<SubjectInfo[]>;

  /** A subject's segments in offset order. */
  segments(subject: string): Promise<SegmentInfo[]>;
  /** Sealed segments not yet replicated, oldest first across subjects, after the (subject, baseOffset) given. */
  unreplicatedSegments(options: { limit: number; after?: { subject: string; baseOffset: number } }): Promise<SegmentInfo[]>;
  /** Every segment of every subject, in (subject, baseOffset) order, for the compaction sweep. */
  allSegments(options: { limit: number; after?: { subject: string; baseOffset: number } }): Promise<SegmentInfo[]>;
  /** The records of one segment still stored, in batches, in offset order. */
  readSegment(subject: string, baseOffset: number, batchSize?: number): AsyncIterable<LogRecord[]>;
  markReplicated(subject: string, baseOffset: number): Promise<void>;
  /** Seals active segments older than the configured maximum age; returns what it sealed. */
  sealStaleSegments(nowMs: number): Promise<SegmentInfo[]>;
  /** Calls the listener whenever a segment is sealed (by a roll or by sealStaleSegments). Returns an unsubscribe. */
  onSegmentSealed(listener: (segment: SegmentInfo) => void): () => void;

  /** Deletes a sealed segment with all its records; the subject's first offset advances past it if it was first. */
  deleteSegment(subject: string, baseOffset: number): Promise<{ records: number; bytes: number }>;
  /** Deletes the records of a segment that `isExpired` says are gone, keeping segment metadata in step. */
  deleteRecords(
    subject: string,
    baseOffset: number,
    isExpired: (record: LogRecord) => boolean,
  ): Promise<{ records: number; bytes: number }>;

  close(): Promise<void>;
}
