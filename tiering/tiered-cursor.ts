import type { ColdStore, LogReader, LogRecord, TailCursor } from '../core/index.js';
import { cursorBatches } from '../core/index.js';

/** Records read from the cold tier per batch when a caller gives no maximum. */
const COLD_BATCH_RECORDS = 512;
/** Body bytes read from the cold tier per batch. */
const COLD_BATCH_BYTES = 4 * 1024 * 1024;

/**
 * A tail cursor over the local log with the cold tier behind it. It tracks the next offset it owes and, whenever the
 * local cursor would jump past it (a start below the local first offset, or segments that local retention dropped
 * while the cursor was open), first delivers what the cold tier holds below the local first offset: no gap, no
 * duplicate. A jump above the local first offset is a hole of expired records, which the cold tier does not have.
 */
export class TieredCursor implements TailCursor {
  private expected: number;
  private pending: LogRecord[] = [];
  /** Whether `pending` came from the local cursor's shared cache. */
  private pendingShared = false;
  private closed = false;
  lastBatchShared = false;

  constructor(
    readonly subject: string,
    from: number,
    private readonly log: LogReader,
    private readonly cold: ColdStore,
    private readonly local: TailCursor,
  ) {
    this.expected = from;
  }

  get position(): number {
    return this.expected;
  }

  lag(): number {
    return this.local.lag() + this.pending.length + Math.max(0, this.boundary() - this.expected);
  }

  /** Where the local records start: the first one held back, else the local cursor's position. */
  private boundary(): number {
    return this.pending[0]?.offset ?? this.local.position;
  }

  async next(maxRecords?: number): Promise<readonly LogRecord[]> {
    for (;;) {
      if (this.closed) return [];
      const boundary = this.boundary();
      if (this.expected < boundary) {
        const older = await this.fromCold(boundary, maxRecords ?? COLD_BATCH_RECORDS);
        if (older.length > 0) {
          this.lastBatchShared = false;
          return older;
        }
        this.expected = boundary;
      }
      if (this.pending.length === 0) {
        const batch = await this.local.next(maxRecords);
        if (batch.length === 0) return batch;
        this.pending = [...batch];
        this.pendingShared = this.local.lastBatchShared;
        continue;
      }
      const out = this.pending.splice(0, maxRecords ?? this.pending.length);
      const last = out.at(-1);
      if (last !== undefined) this.expected = last.offset + 1;
      this.lastBatchShared = this.pendingShared;
      return out;
    }
  }

  /** Records of [expected, boundary) below the local first offset, from the cold tier; advances `expected`. */
  private async fromCold(boundary: number, maxRecords: number): Promise<LogRecord[]> {
    const info = await this.log.subjectInfo(this.subject);
    const end = Math.min(boundary, info?.firstOffset ?? boundary);
    if (this.expected >= end) return [];
    const older = await this.cold.readRange(this.subject, this.expected, end, {
      maxRecords,
      maxBytes: COLD_BATCH_BYTES,
    });
    const last = older.at(-1);
    if (last !== undefined) this.expected = last.offset + 1;
    return older;
  }

  close(): void {
    this.closed = true;
    this.pending = [];
    this.local.close();
  }

  [Symbol.asyncIterator](): AsyncIterator<readonly LogRecord[]> {
    return cursorBatches(this);
  }
}
