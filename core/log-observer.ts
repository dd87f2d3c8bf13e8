/**
 * Receives the log's own measurements and events (the api wires it to Prometheus, the logger and gRPC health).
 * All durations in seconds. Calls are made from the log's hot path: they must be cheap and must not throw.
 */
export interface LogObserver {
  batchWritten(records: number, bytes: number, writeSeconds: number, synced: boolean): void;
  appendAcknowledged(latencySeconds: number): void;
  /** A record read from disk failed its checksum: it was not served (the reader got DATA_LOSS). */
  checksumMismatch?(subject: string, offset: number): void;
  /** A write failed: the log refuses writes until it has recovered (writeRecovered). */
  writeFailed?(err: Error): void;
  /** The log serves writes again after a failure. */
  writeRecovered?(): void;
  /** The recovery pass at open found acknowledged ids from..to (inclusive) of a subject lost with damaged files. */
  dataLost?(subject: string, from: number, to: number, detail: string): void;
  /**
   * The recovery pass at open of a partition its last owner handed over cleanly found ids from..to (inclusive) that
   * this disk never held: that owner issued them and flushed them to the cold tier, which serves them. Not a loss.
   */
  idsHandedOver?(subject: string, from: number, to: number, detail: string): void;
  /**
   * A storage-limit task failed: reading the free space (statfs) or dropping a subject's oldest segment (BROKER_DISCARD
   * = oldest). Appends go on being judged against the last figures; the next poll or append tries again.
   */
  storageLimitFailed?(what: string, err: unknown): void;
}
