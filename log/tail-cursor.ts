import type { LogRecord, TailCursor } from '../core/index.js';
import { cursorBatches } from '../core/index.js';
import type { SubjectState } from './subject-state.js';

/** Reads stored records of a subject from an offset: the cursor's way to the disk when it lags behind the cache. */
export type StoredReader = (
  state: SubjectState,
  fromOffset: number,
  toOffset: number,
  maxRecords: number,
) => Promise<LogRecord[]>;

const DEFAULT_BATCH = 512;
/**
 * A batch read from disk belongs to one cursor, and its subscriber holds it until the stream has taken every record
 * (backpressure), so a lagging subscriber costs what its batch holds: about 450 B of objects per record besides the
 * body. At 512 records, 1,000 lagging subscribers held ~250 MB; at 64, an eighth of that, for one more LevelDB
 * iterator per 64 records.
 */
export const STORED_BATCH = 64;

/**
 * One subscriber's position in a subject's log. Near the head it reads the subject's shared cache (so many
 * subscribers share the work of reading new records); when it lags it reads LevelDB, so a slow subscriber costs
 * disk reads, never memory, and never holds back appends or other cursors.
 */
export class LogTailCursor implements TailCursor {
  private closed = false;
  /** Why the cursor was ended, when it was not a normal close: next() rejects with it. */
  private failure: Error | undefined;
  lastBatchShared = false;
  private waiting: (() => void) | undefined;

  constructor(
    private readonly state: SubjectState,
    public position: number,
    private readonly readStored: StoredReader,
    private readonly onClose: (cursor: LogTailCursor) => void,
  ) {}

  get subject(): string {
    return this.state.subject;
  }

  lag(): number {
    return Math.max(0, this.state.lastOffset - this.position + 1);
  }

  /** Up to maxRecords from the shared cache (shared objects, no copy), or up to STORED_BATCH from disk. */
  async next(maxRecords = DEFAULT_BATCH): Promise<readonly LogRecord[]> {
    const state = this.state;
    for (;;) {
      if (this.closed) return this.ending();
      if (this.position > state.lastOffset) {
        await new Promise<void>((resolve) => {
          const remove = state.onAppend(resolve);
          this.waiting = () => {
            remove();
            resolve();
          };
        });
        this.waiting = undefined;
        continue;
      }
      const cached = state.cacheRead(this.position, maxRecords);
      const lastCached = cached[cached.length - 1];
      if (lastCached !== undefined) {
        this.position = lastCached.offset + 1;
        this.lastBatchShared = true;
        return cached;
      }
      const upTo = state.lastOffset;
      let stored: LogRecord[];
      try {
        stored = await this.readStored(state, this.position, upTo, Math.min(maxRecords, STORED_BATCH));
      } catch (err) {
        // The log closed under the read: a closed cursor ends with an empty batch, not an error.
        if (this.closed) return this.ending();
        throw err;
      }
      if (this.closed) return this.ending();
      const lastStored = stored[stored.length - 1];
      if (lastStored !== undefined) {
        this.position = lastStored.offset + 1;
        this.lastBatchShared = false;
        return stored;
      }
      // Nothing is stored in [position, upTo]: compaction removed it, so the ids jump.
      this.position = upTo + 1;
    }
  }

  /** What next() gives once the cursor has ended: an empty batch after close(), the error after fail(). */
  private ending(): readonly LogRecord[] {
    if (this.failure !== undefined) throw this.failure;
    return [];
  }

  /** Ends the cursor with an error (the log failed a write): its reader resumes later from its last offset. */
  fail(err: Error): void {
    if (this.closed) return;
    this.failure = err;
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.waiting?.();
    this.onClose(this);
  }

  [Symbol.asyncIterator](): AsyncIterator<readonly LogRecord[]> {
    return cursorBatches(this);
  }
}
