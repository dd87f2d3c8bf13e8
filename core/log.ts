import type { LogReader } from './log-reader.js';
import type { LogWriter } from './log-writer.js';
import type { SegmentStore } from './segment-store.js';

/**
 * The local, segmented, append-only, per-subject log, in all its roles: what `log/` opens and the composition root
 * hands out by role (the writer and a reader to the API, the segment store to retention and tiering). Each consumer
 * depends on the narrowest role it needs, never on this whole.
 */
export interface Log extends LogWriter, LogReader, SegmentStore {
  /** Writes everything accepted, ends every cursor and closes the storage. */
  close(): Promise<void>;
}
