import { StorageFullError, type DiscardPolicy, type LogObserver } from '../core/index.js';
import { decodeSegment } from './codec.js';
import { Family, familyBounds } from './keys.js';
import { notify } from './notify.js';
import type { Db } from './storage.js';
import { StorageTally } from './storage-tally.js';
import type { SubjectState } from './subject-state.js';

/** The storage limits of the log (LogOptions.limits); every byte figure counts stored record bodies. */
export interface StorageLimitOptions {
  /** Body bytes stored per subject; 0 = no limit. @defaultValue 0 */
  readonly maxSubjectBytes: number;
  /** Body bytes stored over all subjects; 0 = no limit. @defaultValue 0 */
  readonly maxTotalBytes: number;
  /** At a size limit: 'refuse' the append, or drop the subject's 'oldest' sealed segments. @defaultValue 'refuse' */
  readonly discard: DiscardPolicy;
  /** Free bytes kept on the data dir's file system: appends are refused below it; 0 = off. @defaultValue 64 MiB */
  readonly minFreeBytes: number;
  /** How often the free space is read, in ms. @defaultValue 1000 */
  readonly pollMs?: number;
}

export const NO_LIMITS: StorageLimitOptions = {
  maxSubjectBytes: 0,
  maxTotalBytes: 0,
  discard: 'refuse',
  minFreeBytes: 0,
};

/**
 * Deletes the subject's oldest sealed segment (retention's deletion, so a crash midway is finished at open); resolves
 * with the bytes removed (0 when the state was dropped meanwhile, after a failed write: the loop stops then).
 */
export type DropOldest = (state: SubjectState) => Promise<number>;

/**
 * Admission of appends against the storage limits, decided in memory on the append path: a per-subject counter
 * (SubjectState.storedBytes, from its segments' metadata), a total counter (summed from the segment metadata once at
 * open) and the free space of the data dir's file system (storage-tally.ts). The total and the free space are kept
 * by a StorageTally, which the partitions of a partitioned log share; this log's own part of the total is kept here.
 */
export class StorageLimits {
  /** Body bytes this log counted into the tally (the tally may count other logs' too). */
  private own = 0;
  private readonly tally: StorageTally;
  /** Subjects whose oldest segments are being dropped (policy 'oldest'): one drop loop per subject. */
  private readonly dropping = new Set<SubjectState>();

  constructor(
    private readonly options: StorageLimitOptions,
    dataDir: string,
    private readonly dropOldest: DropOldest,
    private readonly observer: LogObserver | undefined,
    freeBytes?: (dir: string) => Promise<number>,
    /** Shared with other logs (the partitions of one data dir). @defaultValue its own */
    tally?: StorageTally,
  ) {
    this.tally = tally ?? new StorageTally(options.minFreeBytes, options.pollMs ?? 1000, dataDir, observer, freeBytes);
  }

  /** Counts what is stored (when a total limit is set) and reads the free space once before the first append. */
  async start(db: Db): Promise<void> {
    await this.recount(db);
    await this.tally.start();
  }

  /** After the log reopened LevelDB: the counters in memory may count appends that were never written. */
  async recount(db: Db): Promise<void> {
    if (this.options.maxTotalBytes <= 0) return;
    let total = 0;
    for await (const value of db.values(familyBounds(Family.segment))) {
      const segment = decodeSegment(value);
      if (!segment.deleting) total += segment.bytes;
    }
    this.tally.total += total - this.own;
    this.own = total;
  }

  /**
   * Admits `bytes` more for the subject and counts them, or says why not. The hot path: a few comparisons.
   * With the policy 'oldest' a size limit admits the append as long as a sealed segment of the subject can be
   * dropped, and starts dropping; the limit may be passed by what arrives while the drop runs.
   */
  admit(state: SubjectState, bytes: number): StorageFullError | undefined {
    const refused = this.check(state, bytes, 0);
    if (refused === undefined) this.count(state, bytes);
    return refused;
  }

  /**
   * Admits the bytes of several subjects' appends all or none (an atomic batch across subjects, batch-appender.ts):
   * every part is judged, with the total of the parts before it, before any is counted.
   */
  admitAll(parts: ReadonlyMap<SubjectState, number>): StorageFullError | undefined {
    let before = 0;
    for (const [state, bytes] of parts) {
      const refused = this.check(state, bytes, before);
      if (refused !== undefined) return refused;
      before += bytes;
    }
    for (const [state, bytes] of parts) this.count(state, bytes);
    return undefined;
  }

  private check(state: SubjectState, bytes: number, alsoAdmitted: number): StorageFullError | undefined {
    const { minFreeBytes, maxSubjectBytes, maxTotalBytes } = this.options;
    if (minFreeBytes > 0) {
      const free = this.tally.freeNow(alsoAdmitted);
      if (free - bytes < minFreeBytes) {
        this.tally.restatSoon();
        const detail = `the data dir's file system has ${Math.max(0, free)} bytes free, below the floor`;
        return new StorageFullError('BROKER_MIN_FREE_BYTES', Math.max(0, free), minFreeBytes, detail);
      }
    }
    const overSubject = maxSubjectBytes > 0 && state.storedBytes + bytes > maxSubjectBytes;
    const overTotal = maxTotalBytes > 0 && this.tally.total + alsoAdmitted + bytes > maxTotalBytes;
    return overSubject || overTotal ? this.overLimit(state, bytes, overSubject) : undefined;
  }

  private count(state: SubjectState, bytes: number): void {
    state.storedBytes += bytes;
    this.own += bytes;
    this.tally.appended(bytes);
  }

  /** Bytes deleted (compaction, retention, a drop). */
  removed(state: SubjectState, bytes: number): void {
    state.storedBytes -= bytes;
    this.own -= bytes;
    this.tally.total -= bytes;
  }

  private overLimit(state: SubjectState, bytes: number, overSubject: boolean): StorageFullError | undefined {
    const limit = overSubject ? 'BROKER_MAX_SUBJECT_BYTES' : 'BROKER_MAX_TOTAL_BYTES';
    const stored = overSubject ? state.storedBytes : this.tally.total;
    const allowed = overSubject ? this.options.maxSubjectBytes : this.options.maxTotalBytes;
    const where = overSubject ? `subject "${state.subject}"` : 'the broker';
    if (this.options.discard === 'oldest') {
      if (this.dropping.has(state) || oldestSealed(state) !== undefined) {
        this.startDropping(state);
        return undefined;
      }
      const detail = `${where} stores ${stored} bytes and ${bytes} more would pass the limit; no sealed segment of "${state.subject}" is left to drop`;
      return new StorageFullError(limit, stored, allowed, detail);
    }
    return new StorageFullError(
      limit,
      stored,
      allowed,
      `${where} stores ${stored} bytes and ${bytes} more would pass the limit`,
    );
  }

  /** Drops the subject's oldest sealed segments, one at a time, until it is under its limits again. */
  private startDropping(state: SubjectState): void {
    if (this.dropping.has(state)) return;
    this.dropping.add(state);
    state.pins += 1;
    const loop = async (): Promise<void> => {
      while (this.isOver(state) && oldestSealed(state) !== undefined) {
        if ((await this.dropOldest(state)) === 0) return;
      }
    };
    loop()
      .catch((err: unknown) =>
        notify(() => this.observer?.storageLimitFailed?.(`dropping the oldest segment of "${state.subject}"`, err)),
      )
      .finally(() => {
        state.pins -= 1;
        this.dropping.delete(state);
      });
  }

  private isOver(state: SubjectState): boolean {
    const { maxSubjectBytes, maxTotalBytes } = this.options;
    return (
      (maxSubjectBytes > 0 && state.storedBytes > maxSubjectBytes) ||
      (maxTotalBytes > 0 && this.tally.total > maxTotalBytes)
    );
  }

  close(): void {
    this.tally.stop();
  }
}

/** The subject's oldest sealed segment that still holds records and is not being deleted. */
export function oldestSealed(state: SubjectState): { baseOffset: number } | undefined {
  for (const segment of state.segments) {
    if (!segment.sealed) return undefined;
    if (!segment.deleting && segment.count > 0) return segment;
  }
  return undefined;
}
