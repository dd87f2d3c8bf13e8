import {
  UnavailableError,
  expiresAtMs,
  segmentExpiresAtMs,
  type ColdStore,
  type CommitSegment,
  type LogRecord,
  type ReadLimits,
  type SegmentInfo,
} from '../../core/index.js';
import { checkRecordInSegment, commitSpan } from '../record-in-segment.js';

/** A record row as written, with the time its TTL runs out. */
export interface MemoryRow {
  readonly record: LogRecord;
  readonly expiresAtMs: number;
}

/** A segment row: written only after every record row of a copy, so it marks the copy complete. */
interface MemorySegmentRow {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly expiresAtMs: number;
}

/**
 * An in-memory ColdStore that behaves as the Cassandra one does (both pass `coldStoreContract`), for tests that need
 * no CQL server. Record rows are stored as they are written, keyed by (subject, offset) so a retry overwrites them,
 * but a segment's rows are readable only through its segment row, written last: a copy that fails halfway leaves
 * nothing readable (an earlier complete copy stays readable). Records already expired at copy time are not written;
 * a row vanishes once its record expires, as a TTL would, judged by `now`. Fault injection (`failNextWrites`,
 * `failAfterRows`) for retry tests.
 */
export class MemoryColdStore implements ColdStore {
  /** Record rows as written, by subject then offset; rows of an incomplete copy included (as in Cassandra). */
  readonly rows = new Map<string, Map<number, MemoryRow>>();
  /** Segment copies started, by "subject@baseOffset". */
  readonly writes = new Map<string, number>();
  /** Writes that fail outright before any row. */
  failNextWrites = 0;
  /** The next write fails after this many rows (a copy interrupted halfway); -1 = off. */
  failAfterRows = -1;
  private readonly segmentRows = new Map<string, Map<number, MemorySegmentRow>>();

  constructor(private readonly now: () => number = Date.now) {}

  async writeSegment(
    segment: SegmentInfo,
    records: AsyncIterable<LogRecord[]>,
    retentionMs: number,
  ): Promise<{ rows: number; bytes: number }> {
    const key = `${segment.subject}@${segment.baseOffset}`;
    this.writes.set(key, (this.writes.get(key) ?? 0) + 1);
    if (this.failNextWrites > 0) {
      this.failNextWrites -= 1;
      throw new UnavailableError(`cold store unavailable (injected) writing ${key}`);
    }
    const rows = this.rowsOf(segment.subject);
    let written = 0;
    let bytes = 0;
    let latestExpiry = segmentExpiresAtMs(segment, retentionMs);
    for await (const batch of records) {
      for (const record of batch) {
        checkRecordInSegment(segment, record);
        const expiry = expiresAtMs(record.publishedAtMs, record.expirationSeconds, retentionMs);
        if (expiry <= this.now()) continue;
        if (this.failAfterRows === written) {
          this.failAfterRows = -1;
          throw new UnavailableError(`cold store went away mid-copy (injected) writing ${key}`);
        }
        rows.set(record.offset, { record, expiresAtMs: expiry });
        latestExpiry = Math.max(latestExpiry, expiry);
        written += 1;
        bytes += record.body.length;
      }
    }
    if (written > 0) {
      const { baseOffset, lastOffset } = segment;
      this.segmentsOf(segment.subject).set(baseOffset, { baseOffset, lastOffset, expiresAtMs: latestExpiry });
    }
    return { rows: written, bytes };
  }

  /** Commits written with writeCommit, in order (each the segments of one group commit). */
  readonly commits: Array<readonly CommitSegment[]> = [];
  /** writeCommit calls that fail outright before any row. */
  failNextCommits = 0;

  async writeCommit(segments: readonly CommitSegment[], retentionMs: number): Promise<void> {
    if (this.failNextCommits > 0) {
      this.failNextCommits -= 1;
      throw new UnavailableError('cold store unavailable (injected) writing a commit');
    }
    for (const commit of segments) {
      const span = commitSpan(commit);
      if (span === undefined) continue;
      const rows = this.rowsOf(commit.subject);
      const now = this.now();
      // As in Cassandra: the segment row lives at least a retention from now, so earlier commits stay reachable.
      let latestExpiry = retentionMs > 0 ? now + retentionMs : Infinity;
      for (const record of commit.records) {
        const expiry = expiresAtMs(record.publishedAtMs, record.expirationSeconds, retentionMs);
        if (expiry <= now) continue;
        rows.set(record.offset, { record, expiresAtMs: expiry });
        latestExpiry = Math.max(latestExpiry, expiry);
      }
      this.segmentsOf(commit.subject).set(span.baseOffset, { ...span, expiresAtMs: latestExpiry });
    }
    this.commits.push(segments);
  }

  async get(subject: string, offset: number): Promise<LogRecord | undefined> {
    // As Cassandra's `base_offset <= ? LIMIT 1`: the latest complete segment starting at or below the offset.
    const holding = this.liveSegments(subject)
      .filter((s) => s.baseOffset <= offset)
      .at(-1);
    if (holding === undefined || holding.lastOffset < offset) return undefined;
    return this.liveRow(subject, offset)?.record;
  }

  async readRange(subject: string, fromOffset: number, beforeOffset: number, limits: ReadLimits): Promise<LogRecord[]> {
    const out: LogRecord[] = [];
    let bytes = 0;
    for (const segment of this.liveSegments(subject)) {
      if (segment.lastOffset < fromOffset) continue;
      if (segment.baseOffset >= beforeOffset) break;
      const end = Math.min(beforeOffset - 1, segment.lastOffset);
      for (let offset = Math.max(fromOffset, segment.baseOffset); offset <= end; offset++) {
        const record = this.liveRow(subject, offset)?.record;
        if (record === undefined) continue;
        if (out.length >= limits.maxRecords || (out.length > 0 && bytes + record.body.length > limits.maxBytes))
          return out;
        out.push(record);
        bytes += record.body.length;
      }
    }
    return out;
  }

  /** Removes one record row, as if its TTL had run out early (a record the cold tier lacks). */
  deleteRow(subject: string, offset: number): void {
    this.rows.get(subject)?.delete(offset);
  }

  async close(): Promise<void> {}

  private rowsOf(subject: string): Map<number, MemoryRow> {
    const rows = this.rows.get(subject) ?? new Map<number, MemoryRow>();
    this.rows.set(subject, rows);
    return rows;
  }

  private segmentsOf(subject: string): Map<number, MemorySegmentRow> {
    const segments = this.segmentRows.get(subject) ?? new Map<number, MemorySegmentRow>();
    this.segmentRows.set(subject, segments);
    return segments;
  }

  /** The subject's complete, unexpired segments in offset order. */
  private liveSegments(subject: string): MemorySegmentRow[] {
    const now = this.now();
    return [...(this.segmentRows.get(subject)?.values() ?? [])]
      .filter((s) => s.expiresAtMs > now)
      .sort((a, b) => a.baseOffset - b.baseOffset);
  }

  private liveRow(subject: string, offset: number): MemoryRow | undefined {
    const row = this.rows.get(subject)?.get(offset);
    return row === undefined || row.expiresAtMs <= this.now() ? undefined : row;
  }
}
