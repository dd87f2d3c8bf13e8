import type { LogRecord } from './record.js';
import type { TailCursor } from './tail-cursor.js';

/** A cursor's batches as an async iterable, ending when the cursor is closed and closing it when the loop stops. */
export async function* cursorBatches(cursor: Pick<TailCursor, 'next' | 'close'>): AsyncGenerator<readonly LogRecord[]> {
  try {
    for (;;) {
      const batch = await cursor.next();
      if (batch.length === 0) return;
      yield batch;
    }
  } finally {
    cursor.close();
  }
}
