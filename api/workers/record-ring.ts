import type { LogRecord } from '../../core/index.js';

/** What a cached record costs besides its body: the record object, its fields and its slot, rounded up. */
const RECORD_OVERHEAD_BYTES = 160;

/** The bytes a record is charged in the ring. */
export function cachedBytes(record: LogRecord): number {
  return record.body.length + RECORD_OVERHEAD_BYTES;
}

/**
 * The newest records an upstream subscription received, bounded by a count and by bytes: a ring, so appending and
 * evicting cost no copy. It always keeps the newest record, however large. `coveredFrom` is the lowest position it
 * answers for: every record the owner delivered with an id >= coveredFrom is here (ids it skipped were expired on the
 * owner), so a cursor at or above it reads here and one below it asks the owner.
 */
export class RecordRing {
  private readonly slots: Array<LogRecord | undefined>;
  private head = 0;
  private count = 0;
  private bytes = 0;

  constructor(
    private readonly maxRecords: number,
    private readonly maxBytes: number,
    /** The id the upstream subscription starts at: nothing below it was ever received. */
    public coveredFrom: number,
  ) {
    this.slots = new Array<LogRecord | undefined>(maxRecords).fill(undefined);
  }

  get size(): number {
    return this.count;
  }

  get sizeBytes(): number {
    return this.bytes;
  }

  /** Appends the newest record (ids increase), evicting the oldest past either bound; returns the bytes' change. */
  push(record: LogRecord): number {
    const before = this.bytes;
    if (this.count === this.maxRecords) this.evictOldest();
    this.slots[(this.head + this.count) % this.maxRecords] = record;
    this.count += 1;
    this.bytes += cachedBytes(record);
    while (this.count > 1 && this.bytes > this.maxBytes) this.evictOldest();
    return this.bytes - before;
  }

  /** Evicts up to `records` of the oldest, keeping the newest; returns the bytes freed. */
  trimOldest(records: number): number {
    const before = this.bytes;
    for (let i = 0; i < records && this.count > 1; i++) this.evictOldest();
    return before - this.bytes;
  }

  /** Up to max records with id >= from, oldest first: the same objects for every reader. from >= coveredFrom. */
  readFrom(from: number, max: number): LogRecord[] {
    const out: LogRecord[] = [];
    for (let i = this.firstAtOrAbove(from); i < this.count && out.length < max; i++) {
      const record = this.at(i);
      if (record !== undefined) out.push(record);
    }
    return out;
  }

  private at(i: number): LogRecord | undefined {
    return this.slots[(this.head + i) % this.maxRecords];
  }

  /** The index (from the oldest) of the first record with id >= from; count when there is none. */
  private firstAtOrAbove(from: number): number {
    let low = 0;
    let high = this.count;
    while (low < high) {
      const mid = (low + high) >>> 1;
      const record = this.at(mid);
      if (record !== undefined && record.offset < from) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  private evictOldest(): void {
    const oldest = this.at(0);
    if (oldest === undefined) return;
    this.slots[this.head] = undefined;
    this.head = (this.head + 1) % this.maxRecords;
    this.count -= 1;
    this.bytes -= cachedBytes(oldest);
    this.coveredFrom = oldest.offset + 1;
  }
}
