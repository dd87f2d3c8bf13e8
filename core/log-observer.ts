/** Receives the log's own measurements (the api wires it to Prometheus). All durations in seconds. */
export interface LogObserver {
  batchWritten(records: number, bytes: number, writeSeconds: number, synced: boolean): void;
  appendAcknowledged(latencySeconds: number): void;
}
