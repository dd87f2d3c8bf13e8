import type { LogRecord, TailCursor } from '../core/index.js';
import { cursorBatches } from '../core/index.js';
import type { SubjectState } from './subject-state.js';

/** Reads stored records of a subject from an offset: the cursor's way to the disk when it lags behind the cache. */
export type StoredReader = (state: SubjectState, fromOffset: number, toOffset: number, maxRecords: number) => Promise<LogRecord[]>;

const DEFAULT_BATCH = 512;

/**
 * One subscriber's position in a subject's log. Near the head it reads the subject's shared cache (so many
 * subscribers share the work of reading new records); when it lags it reads LevelDB, so a slow subscriber costs
 * disk reads, never memory, and never holds back appends or other cursors.
 */
export class LogTailCursor implements TailCursor {
  private closed = false;
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

  async next(maxRecords = DEFAULT_BATCH): Promise<readonly LogRecord[]> {
    const state = this.state;
    for (;;) {
      if (this.closed) return [];
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
      if (cached.length > 0) {
        this.position = cached[cached.length - 1]!.offset + 1;
        return cached;
      }
      const upTo = state.lastOffset;
      let stored: LogRecord[];
      try {
        stored = await this.readStored(state, this.position, upTo, maxRecords);
      } catch (err) {
        // The log closed under the read: a closed cursor ends with an empty batch, not an error.
        if (this.closed) return [];
        throw err;
      }
      if (this.closed) return [];
      if (stored.length > 0) {
        this.position = stored[stored.length - 1]!.offset + 1;
        return stored;
      }
      // Nothing is stored in [position, upTo]: compaction removed it, so the ids jump.
      this.position = upTo + 1;
    }
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
