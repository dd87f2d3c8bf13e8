import type { LogRecord } from '../core/index.js';
import type { SegmentState } from './codec.js';
import { Family, subjectPrefix } from './keys.js';

/**
 * What the log keeps in memory for one subject: its offsets, its segments' metadata and, while it has
 * subscribers, a short cache of its newest acknowledged records. Small, and evictable when idle.
 */
export class SubjectState {
  readonly recordPrefix: Buffer;
  readonly segmentPrefix: Buffer;
  /** Highest acknowledged (written) offset. */
  lastOffset: number;
  /** Next offset to assign; above lastOffset while appends are in flight. */
  nextOffset: number;
  /** First offset still stored (lastOffset + 1 when none is). */
  firstOffset: number;
  /**
   * Ids known to be reserved in the shared store (id-reserver.ts): a group commit taking the head above it raises
   * the reservation first. Never above the store's value (it may be below: then one write too many). 0 = none known.
   */
  reservedHigh = 0;
  readonly segments: SegmentState[];
  /** Body bytes of its segments, assigned appends included: the storage limits' per-subject counter (storage-limits.ts). */
  storedBytes: number;
  /** Appends and metadata writes not yet written: the state must not be evicted meanwhile. */
  inflight = 0;
  /** Open cursors: while there are any the state stays in memory and caches its newest records. */
  cursors = 0;
  /** Used since the subject cache last swept past it (second-chance eviction). */
  recent = false;
  /** Operations holding this state across awaits (deletion, sealing, opening a cursor): it must not be evicted. */
  pins = 0;
  /** Cursors waiting for the next commit; created on first use, since most subjects never have any. */
  private waiters: Set<() => void> | undefined;
  /** Newest acknowledged records [cacheStart, lastOffset], kept only while the subject has cursors. */
  cache: LogRecord[] = [];
  cacheStart = 0;
  cacheBytes = 0;

  constructor(
    readonly subject: string,
    lastOffset: number,
    firstOffset: number,
    segments: SegmentState[],
  ) {
    this.recordPrefix = subjectPrefix(Family.record, subject);
    this.segmentPrefix = subjectPrefix(Family.segment, subject);
    this.lastOffset = lastOffset;
    this.nextOffset = lastOffset + 1;
    this.firstOffset = firstOffset;
    this.segments = segments;
    let bytes = 0;
    for (const segment of segments) bytes += segment.bytes;
    this.storedBytes = bytes;
  }

  get active(): SegmentState | undefined {
    const last = this.segments[this.segments.length - 1];
    return last !== undefined && !last.sealed ? last : undefined;
  }

  /** The segment starting at `baseOffset` (segments are in offset order: a binary search). */
  segmentAt(baseOffset: number): SegmentState | undefined {
    const segments = this.segments;
    let lo = 0;
    let hi = segments.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const segment = segments[mid];
      if (segment === undefined) return undefined;
      if (segment.baseOffset === baseOffset) return segment;
      if (segment.baseOffset < baseOffset) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }

  /** The append at `offset` is written: it is visible to readers from now on. */
  acknowledged(offset: number): void {
    this.lastOffset = offset;
    this.inflight -= 1;
    if (this.firstOffset > offset) this.firstOffset = offset;
  }

  get evictable(): boolean {
    return this.inflight === 0 && this.cursors === 0 && this.pins === 0;
  }

  /** Calls `wake` once at the next acknowledged append (no polling); returns a function that cancels it. */
  onAppend(wake: () => void): () => void {
    const waiters = (this.waiters ??= new Set());
    waiters.add(wake);
    return () => waiters.delete(wake);
  }

  wakeAll(): void {
    const waiters = this.waiters;
    if (waiters === undefined || waiters.size === 0) return;
    this.waiters = undefined;
    for (const wake of waiters) wake();
  }

  /** Adds acknowledged records (in offset order) to the cache, keeping at most maxRecords; returns bytes added. */
  cacheAppend(record: LogRecord, maxRecords: number): number {
    if (this.cache.length === 0) this.cacheStart = record.offset;
    this.cache.push(record);
    this.cacheBytes += record.body.length;
    // Trim in chunks so the cost of shifting the array is amortised.
    if (this.cache.length > maxRecords + (maxRecords >> 2))
      return record.body.length - this.cacheTrim(this.cache.length - maxRecords);
    return record.body.length;
  }

  /** Drops the oldest `n` cached records; returns the bytes freed. */
  cacheTrim(n: number): number {
    const dropped = this.cache.splice(0, Math.min(n, this.cache.length));
    let freed = 0;
    for (const r of dropped) freed += r.body.length;
    this.cacheBytes -= freed;
    this.cacheStart += dropped.length;
    return freed;
  }

  cacheClear(): number {
    const freed = this.cacheBytes;
    this.cache = [];
    this.cacheBytes = 0;
    return freed;
  }

  /** Drops cached records with offsets up to `offset` (they were deleted); returns the bytes freed. */
  cacheDropThrough(offset: number): number {
    if (this.cache.length === 0 || offset < this.cacheStart) return 0;
    return this.cacheTrim(offset - this.cacheStart + 1);
  }

  /** Cached records from `offset` on, at most `max`; empty when `offset` is not cached. */
  cacheRead(offset: number, max: number): LogRecord[] {
    if (this.cache.length === 0 || offset < this.cacheStart) return [];
    const start = offset - this.cacheStart;
    if (start >= this.cache.length) return [];
    return this.cache.slice(start, start + max);
  }
}
