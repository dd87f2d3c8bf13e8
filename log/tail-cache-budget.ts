import type { LogRecord } from '../core/index.js';
import type { SubjectState } from './subject-state.js';

/**
 * The byte budget that the tail caches of all subjects share (`tailCacheBytes`), each cache holding at most
 * `tailCacheRecords` of its subject's newest acknowledged records. Whoever drops cached records (the last cursor
 * closing, eviction, deletion) does it through here, so the count stays true.
 */
export class TailCacheBudget {
  private bytes = 0;

  constructor(
    private readonly maxRecords: number,
    private readonly maxBytes: number,
  ) {}

  /** Caches an acknowledged record of a subject that has cursors. */
  add(state: SubjectState, record: LogRecord): void {
    this.bytes += state.cacheAppend(record, this.maxRecords);
    if (this.bytes > this.maxBytes) {
      // Over the shared budget: halve the cache of the subject that grew it; its cursors fall back to the disk.
      this.bytes -= state.cacheTrim(Math.ceil(state.cache.length / 2));
    }
  }

  /** Empties a subject's cache (its last cursor closed, or it leaves memory). */
  clear(state: SubjectState): void {
    this.bytes -= state.cacheClear();
  }

  /** Drops a subject's cached records with offsets up to `offset` (they were deleted). */
  dropThrough(state: SubjectState, offset: number): void {
    this.bytes -= state.cacheDropThrough(offset);
  }
}
