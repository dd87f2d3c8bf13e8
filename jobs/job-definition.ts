/** A job that runs every interval (compaction): one attempt per tick, the next tick being its retry. */
export interface PeriodicJob {
  readonly name: string;
  /** One run; the resolved value is the job's result (JSON-serializable: it may cross Redis). */
  run(): Promise<unknown>;
}

/**
 * A job per unit of owed work (replication: one per sealed segment), retried with backoff, a dead letter once it
 * failed every attempt, and re-driven by the sweep, which enqueues everything `owed()` lists every interval.
 */
export interface KeyedJob<T = unknown> {
  readonly name: string;
  /** The job's deterministic id, so the same work is queued once. No ':' (BullMQ refuses it in ids). */
  idOf(data: T): string;
  /** One attempt; throws to fail it. Must be idempotent: a retry, or a second runner, may do it again. */
  run(data: T): Promise<unknown>;
  /** Everything still owed, from the source of truth: a lost queue loses nothing. */
  owed(): AsyncIterable<T>;
  /** Told after each sweep how many units were owed (e.g. to set a lag gauge). */
  onSwept?(owed: number): void;
  /** Jobs of this kind in hand at once per runner. @defaultValue 2 */
  readonly concurrency?: number;
}
