import {
  SegmentNotSealedError,
  type LogRecord,
  type Removed,
  type SegmentInfo,
  type SegmentQuery,
  type SegmentRef,
  type LogObserver,
  type SegmentStore,
} from '../core/index.js';
import { INDEX_VALUE, decodeSegment, encodeSegment, segmentInfo, type SegmentState } from './codec.js';
import type { GroupCommit, Op } from './group-commit.js';
import { Family, familyBounds, offsetKey, parseActiveKey, subjectPrefix } from './keys.js';
import type { SegmentRoller } from './segment-roller.js';
import type { StorageLimits } from './storage-limits.js';
import { firstStoredOffset, readStoredRecords, scanSegments, type Db } from './storage.js';
import type { SubjectCache } from './subject-cache.js';
import type { SubjectState } from './subject-state.js';
import type { TailCacheBudget } from './tail-cache-budget.js';

const NOTHING_REMOVED: Removed = Object.freeze({ records: 0, bytes: 0 });

/**
 * Segment administration for retention and tiering: scans, one segment's records, sealing stale segments, marking
 * replicated, deleting. Metadata changes go through the group commit, so they are ordered with the appends; the
 * subject is pinned in memory across every await, and the cached copies of deleted records are dropped.
 */
// The idempotency keys' expiry is the deduper's (dedupe.ts), which the façade calls for it.
export class SegmentAdmin implements Omit<SegmentStore, 'expireIdempotencyKeys'> {
  constructor(
    private readonly db: Db,
    private readonly subjects: SubjectCache,
    private readonly commit: GroupCommit,
    private readonly roller: SegmentRoller,
    private readonly tailCache: TailCacheBudget,
    /** Hears of stored records that fail their checksum (readSegment throws DataLossError at them). */
    private readonly observer: LogObserver | undefined,
    private readonly limits: StorageLimits,
  ) {}

  /** From memory when the subject is loaded (it may be newer), else one point read: no subject load. */
  async segment(ref: SegmentRef): Promise<SegmentInfo | undefined> {
    const state = this.subjects.cached(ref.subject);
    if (state !== undefined) {
      const segment = state.segmentAt(ref.baseOffset);
      return segment === undefined ? undefined : segmentInfo(ref.subject, segment);
    }
    // Not in memory: nothing in flight either (a state with unwritten changes is never evicted), so the disk is current.
    const value = await this.db.get(offsetKey(subjectPrefix(Family.segment, ref.subject), ref.baseOffset));
    if (value === undefined) return undefined;
    const segment = decodeSegment(value);
    return segment.deleting ? undefined : segmentInfo(ref.subject, segment);
  }

  async segments(subject: string): Promise<SegmentInfo[]> {
    const state = this.subjects.cached(subject) ?? (await this.subjects.existing(subject));
    return state === undefined ? [] : state.segments.map((s) => segmentInfo(subject, s));
  }

  allSegments(query: SegmentQuery): Promise<SegmentInfo[]> {
    return scanSegments(this.db, Family.segment, query, this.inMemorySegment);
  }

  unreplicatedSegments(query: SegmentQuery): Promise<SegmentInfo[]> {
    return scanSegments(this.db, Family.unreplicated, query, this.inMemorySegment);
  }

  private readonly inMemorySegment = (subject: string, baseOffset: number): SegmentState | undefined =>
    this.subjects.peek(subject)?.segmentAt(baseOffset);

  async *readSegment({ subject, baseOffset }: SegmentRef, batchSize = 1000): AsyncIterable<LogRecord[]> {
    const state = await this.subjects.load(subject);
    const segment = state.segmentAt(baseOffset);
    if (segment === undefined) return;
    let from = baseOffset;
    const to = Math.min(segment.lastOffset, state.lastOffset);
    while (from <= to) {
      const batch = await readStoredRecords(this.db, state, from, to, { maxRecords: batchSize }, this.observer);
      const last = batch[batch.length - 1];
      if (last === undefined) return;
      yield batch;
      from = last.offset + 1;
    }
  }

  async markReplicated(ref: SegmentRef): Promise<void> {
    await this.withSealedSegment(ref, undefined, async (state, segment) => {
      if (segment.replicated) return;
      segment.replicated = true;
      await this.commit.control(
        [
          { type: 'put', key: offsetKey(state.segmentPrefix, ref.baseOffset), value: encodeSegment(segment) },
          { type: 'del', key: offsetKey(subjectPrefix(Family.unreplicated, ref.subject), ref.baseOffset) },
        ],
        [state],
      );
    });
  }

  async sealStaleSegments(nowMs: number): Promise<SegmentInfo[]> {
    // The age index is ordered by first publish time: only the stale segments are read.
    const candidates: Array<{ subject: string; offset: number }> = [];
    for await (const key of this.db.keys({ gte: familyBounds(Family.active).gte, lt: this.roller.staleBound(nowMs) })) {
      candidates.push(parseActiveKey(key));
    }
    const sealed: SegmentInfo[] = [];
    const states: SubjectState[] = [];
    try {
      for (const { subject, offset } of candidates) {
        const state = await this.subjects.acquire(subject);
        states.push(state);
        const segment = state.active;
        if (segment === undefined || segment.baseOffset !== offset || segment.count === 0) continue;
        if (!this.roller.isStale(segment, nowMs)) continue;
        // Appends to this subject that are still in flight belong to this segment; they are written first.
        this.roller.seal(state, segment);
        sealed.push(segmentInfo(subject, segment));
      }
      if (sealed.length > 0) await this.commit.control([], states);
    } finally {
      for (const state of states) this.subjects.release(state);
    }
    return sealed;
  }

  onSegmentSealed(listener: (segment: SegmentInfo) => void): () => void {
    return this.commit.onSegmentSealed(listener);
  }

  deleteSegment(ref: SegmentRef): Promise<Removed> {
    return this.withSealedSegment(ref, NOTHING_REMOVED, async (state, segment) => {
      const removed = { records: segment.count, bytes: segment.bytes };
      // Mark first, so a crash midway is finished on the next open instead of leaving half a segment.
      segment.deleting = true;
      const marker = offsetKey(subjectPrefix(Family.deleting, ref.subject), ref.baseOffset);
      await this.commit.control(
        [
          { type: 'put', key: offsetKey(state.segmentPrefix, ref.baseOffset), value: encodeSegment(segment) },
          { type: 'put', key: marker, value: INDEX_VALUE },
        ],
        [state],
      );
      this.tailCache.dropThrough(state, segment.lastOffset);
      const first = offsetKey(state.recordPrefix, ref.baseOffset);
      const last = offsetKey(state.recordPrefix, segment.lastOffset);
      await this.db.clear({ gte: first, lte: last });
      // Deleting writes tombstones: the disk space comes back only when LevelDB compacts the range. Compacting it now
      // is what lets compaction free a nearly full disk (issue 11) instead of leaving it to LevelDB's own schedule.
      await compactRange(this.db, first, last);
      const index = state.segments.indexOf(segment);
      if (index >= 0) {
        state.segments.splice(index, 1);
        this.limits.removed(state, removed.bytes);
      }
      state.firstOffset = await firstStoredOffset(this.db, state);
      await this.commit.control(
        [
          { type: 'del', key: offsetKey(state.segmentPrefix, ref.baseOffset) },
          { type: 'del', key: offsetKey(subjectPrefix(Family.unreplicated, ref.subject), ref.baseOffset) },
          { type: 'del', key: marker },
        ],
        [state],
      );
      return removed;
    });
  }

  deleteRecords(ref: SegmentRef, isExpired: (record: LogRecord) => boolean): Promise<Removed> {
    return this.withSealedSegment(ref, NOTHING_REMOVED, async (state, segment) => {
      const ops: Op[] = [];
      let bytes = 0;
      for await (const batch of this.readSegment(ref)) {
        for (const record of batch) {
          if (!isExpired(record)) continue;
          ops.push({ type: 'del', key: offsetKey(state.recordPrefix, record.offset) });
          bytes += record.body.length;
        }
      }
      if (ops.length === 0) return NOTHING_REMOVED;
      const records = ops.length;
      segment.count -= records;
      segment.bytes -= bytes;
      this.limits.removed(state, bytes);
      ops.push({ type: 'put', key: offsetKey(state.segmentPrefix, ref.baseOffset), value: encodeSegment(segment) });
      // Cached copies of the segment would outlive the deletion: readers near the head fall back to the disk.
      this.tailCache.dropThrough(state, segment.lastOffset);
      await this.commit.control(ops, [state]);
      state.firstOffset = await firstStoredOffset(this.db, state);
      return { records, bytes };
    });
  }

  /**
   * Runs `work` on a sealed segment with its subject pinned. A segment that does not exist or is being deleted
   * gets `none` (it is gone, or going: its metadata must not be written again after the deletion's batch);
   * an active one throws SegmentNotSealedError.
   */
  private async withSealedSegment<T>(
    ref: SegmentRef,
    none: T,
    work: (state: SubjectState, segment: SegmentState) => Promise<T>,
  ): Promise<T> {
    const state = await this.subjects.acquire(ref.subject);
    try {
      const segment = state.segmentAt(ref.baseOffset);
      if (segment === undefined || segment.deleting) return none;
      if (!segment.sealed) throw new SegmentNotSealedError(ref.subject, ref.baseOffset);
      return await work(state, segment);
    } finally {
      this.subjects.release(state);
    }
  }
}

/**
 * classic-level's compactRange, which level's typings leave out (they cover the browser too): LevelDB rewrites the
 * tables holding the range, dropping deleted records and their tombstones, and removes the old files.
 */
async function compactRange(db: Db, start: Buffer, end: Buffer): Promise<void> {
  const native = db as Db & { compactRange?: (start: Buffer, end: Buffer) => Promise<void> };
  if (typeof native.compactRange === 'function') await native.compactRange(start, end);
}
