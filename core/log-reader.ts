import type { ReadLimits } from './read-limits.js';
import type { LogRecord } from './record.js';
import type { SubjectInfo } from './subject-info.js';
import type { TailCursor } from './tail-cursor.js';

/** What a read by offset found. */
export type LookupResult =
  | { readonly kind: 'record'; readonly record: LogRecord }
  /** 1 <= offset <= lastOffset but the record is gone (expired and compacted, or removed by local retention). */
  | { readonly kind: 'removed'; readonly firstOffset: number }
  /**
   * 1 <= offset <= lastOffset, acknowledged, but its record was lost with damaged files (a torn write-ahead log, a
   * damaged or missing table file): the API answers DATA_LOSS, never EXPIRED_ID or INVALID_ID. `detail` says why.
   */
  | { readonly kind: 'lost'; readonly detail: string }
  /** offset < 1, offset > lastOffset, or a subject that was never published to. */
  | { readonly kind: 'never'; readonly lastOffset: number };

/** A page of subjects: in byte order of their UTF-8, after `after` (exclusive), starting with `prefix`. */
export interface SubjectQuery {
  readonly prefix?: string;
  readonly after?: string;
  readonly limit: number;
  /** The caller gave up: the listing stops at its next subject and returns what it has. */
  readonly signal?: AbortSignal;
}

/**
 * The read side of the log, what the API serves from: lookups by offset, pages, tail cursors and subject metadata.
 * The local log implements it, and so does the tiered reader (local first, then the cold tier). It excludes expiry
 * judgement (callers use core/expiry at read time), writes and segment maintenance.
 */
export interface LogReader {
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
  listSubjects(query: SubjectQuery): Promise<SubjectInfo[]>;
}
