import type { CompactionResult } from './compaction.js';

/** What both job runners (in process, BullMQ) offer the broker: the same processors, scheduled differently. */
export interface JobRunner {
  /** Runs a compaction pass now, through the runner's own queue, and resolves with its result. */
  runCompactionNow(): Promise<CompactionResult>;
  /** Replicates every segment the log still owes the cold tier, here and now; resolves with how many it copied. */
  replicateOwedNow(): Promise<number>;
  /** Stops scheduling, waits for the job in hand, and releases timers and connections. */
  close(): Promise<void>;
}

/** Retry delay before attempt `attempt + 1`: base * 2^(attempt - 1), at most maxMs. */
export function backoffMs(attempt: number, baseMs: number, maxMs = 60_000): number {
  return Math.min(baseMs * 2 ** (attempt - 1), maxMs);
}
