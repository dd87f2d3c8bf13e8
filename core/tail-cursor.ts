import type { LogRecord } from './record.js';

/**
 * A subscriber's cursor into one subject's log: it delivers records in offset order from its position, first from
 * storage (replay), then live as they are appended, waiting without polling. Close it when the subscriber goes.
 * It owns its position and its wait; it excludes flow control towards the client (the API's session does that).
 */
export interface TailCursor extends AsyncIterable<readonly LogRecord[]> {
  readonly subject: string;
  /** The next offset this cursor will deliver. */
  readonly position: number;
  /** Acknowledged records not yet delivered to this cursor. */
  lag(): number;
  /**
   * Whether the records of the last batch are shared with the subject's other cursors (read from memory they all
   * use, the same objects): work done per record, such as encoding it for the wire, can then be done once for all.
   */
  readonly lastBatchShared: boolean;
  /**
   * The next batch of at least one record in offset order, waiting for appends if there are none;
   * an empty batch once the cursor (or the log) is closed.
   */
  next(maxRecords?: number): Promise<readonly LogRecord[]>;
  close(): void;
}
