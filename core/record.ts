/** What a publisher asks the log to append. Validated before it reaches the log. */
export interface AppendInput {
  readonly subject: string;
  readonly body: Uint8Array;
  /** > 0: expires this many seconds after publishing; 0: the subject retention applies. */
  readonly expirationSeconds: number;
  /**
   * An idempotency key (validated at the edge; absent or empty = none): an append repeating the key of an earlier
   * append to the same subject within the log's dedupe window resolves with that append's offset and appends nothing.
   */
  readonly key?: string;
}

/** A record as the log stores and returns it. */
export interface LogRecord {
  readonly subject: string;
  /** The message id: the record's offset in its subject's log (dense, from 1). */
  readonly offset: number;
  readonly body: Uint8Array;
  /** Wall-clock time of the append, in ms since the epoch. */
  readonly publishedAtMs: number;
  /** As given at publish time (not the time left). */
  readonly expirationSeconds: number;
}
