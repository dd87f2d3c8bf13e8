import type { LogRecord } from '../../core/index.js';
import type { RecordRing } from './record-ring.js';

/**
 * The bytes that the caches of all of a hub's upstreams share (`totalCacheBytes`), besides each one's own bounds: a
 * worker holding subscribers of thousands of remote subjects keeps a bounded amount of their records in memory.
 * Cursors of a trimmed cache read the owner instead (FetchRange): slower, never wrong.
 */
export class UpstreamCacheBudget {
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get usedBytes(): number {
    return this.bytes;
  }

  /** Caches a received record in its upstream's ring. */
  add(ring: RecordRing, record: LogRecord): void {
    this.bytes += ring.push(record);
    if (this.bytes > this.maxBytes) {
      // Over the shared budget: halve the cache that grew it, as the local log's tail caches do.
      this.bytes -= ring.trimOldest(Math.ceil(ring.size / 2));
    }
  }

  /** A closed upstream's ring leaves memory. */
  release(ring: RecordRing): void {
    this.bytes -= ring.sizeBytes;
  }
}
