import { expiresAtMs, type ColdStore, type LogRecord, type ReadLimits, type SegmentInfo } from '../../core/index.js';

/**
 * An in-memory ColdStore for tests that need no CQL server: rows keyed by (subject, offset) so a retry overwrites,
 * expiry judged at read time like a TTL, and fault injection (`failNextWrites`, `failAfterRows`) for retry tests.
 */
export class MemoryColdStore implements ColdStore {
  readonly rows = new Map<string, Map<number, { record: LogRecord; expiresAtMs: number }>>();
  /** Segment copies started, by "subject@baseOffset". */
  readonly writes = new Map<string, number>();
  /** Writes that fail outright before any row. */
  failNextWrites = 0;
  /** The next write fails after this many rows (a copy interrupted halfway); -1 = off. */
  failAfterRows = -1;

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
      throw new Error('cold store unavailable (injected)');
    }
    let rows = 0;
    let bytes = 0;
    const subject = this.rows.get(segment.subject) ?? new Map<number, { record: LogRecord; expiresAtMs: number }>();
    this.rows.set(segment.subject, subject);
    for await (const batch of records) {
      for (const record of batch) {
        if (this.failAfterRows === rows) {
          this.failAfterRows = -1;
          throw new Error('cold store went away mid-copy (injected)');
        }
        subject.set(record.offset, {
          record,
          expiresAtMs: expiresAtMs(record.publishedAtMs, record.expirationSeconds, retentionMs),
        });
        rows += 1;
        bytes += record.body.length;
      }
    }
    return { rows, bytes };
  }

  async get(subject: string, offset: number): Promise<LogRecord | undefined> {
    const row = this.rows.get(subject)?.get(offset);
    return row === undefined || row.expiresAtMs <= this.now() ? undefined : row.record;
  }

  async readRange(subject: string, fromOffset: number, beforeOffset: number, limits: ReadLimits): Promise<LogRecord[]> {
    const rows = [...(this.rows.get(subject)?.values() ?? [])]
      .filter((r) => r.record.offset >= fromOffset && r.record.offset < beforeOffset && r.expiresAtMs > this.now())
      .sort((a, b) => a.record.offset - b.record.offset);
    const out: LogRecord[] = [];
    let bytes = 0;
    for (const { record } of rows) {
      if (out.length >= limits.maxRecords || (out.length > 0 && bytes + record.body.length > limits.maxBytes)) break;
      out.push(record);
      bytes += record.body.length;
    }
    return out;
  }

  async close(): Promise<void> {}
}
