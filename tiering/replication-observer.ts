/**
 * What the replicator reports, and the one figure it reads back: the composition root (api/) connects it to the
 * broker's metrics (broker_segments_replicated_total, broker_bytes_replicated_total,
 * broker_replication_lag_segments). It excludes counting job runs, retries and dead letters, which are the runner's.
 */
export interface ReplicationObserver {
  /**
   * A segment is in the cold tier and marked replicated; `bytes` is the body bytes its copy wrote. Called once per
   * completed copy, after markReplicated: a copy that failed, or a segment that was skipped, is never reported.
   */
  segmentReplicated(bytes: number): void;
  /**
   * Sealed segments not yet replicated, as the observer follows them (the lag gauge). While it is above the pacer's
   * limit, copies stop yielding to publishers.
   */
  readonly replicationLag: number;
}
