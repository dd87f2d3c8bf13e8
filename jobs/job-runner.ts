import type { Logger } from 'pino';
import type { Log } from '../core/index.js';
import type { CompactionResult, Compactor } from '../retention/compaction.js';
import type { JobMetrics } from './job-metrics.js';
import type { Replicator } from '../tiering/replicator.js';

/** Attempts of one replication before it is dead-lettered. */
export const DEFAULT_ATTEMPTS = 8;
/** First retry delay of a failed replication, in ms; it doubles per attempt (at most 60 s). */
export const DEFAULT_BACKOFF_MS = 1000;

/** What both runners are given: the same processors and the same retry policy. */
export interface JobRunnerOptions {
  readonly log: Log;
  readonly compactor: Compactor;
  /** Absent: no cold tier, so no replication. */
  readonly replicator?: Replicator;
  /** Compaction and the sweep of owed segments run this often, in ms. */
  readonly intervalMs: number;
  readonly metrics: JobMetrics;
  readonly logger: Logger;
  /** Attempts of one replication before it is dead-lettered (the next sweep re-drives it). @defaultValue 8 */
  readonly attempts?: number;
  /** First retry delay in ms; doubles per attempt. @defaultValue 1000 */
  readonly backoffMs?: number;
  /** The clock compaction judges expiry by. @defaultValue Date.now */
  readonly now?: () => number;
}

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

/** One compaction pass with the metrics and the log line both runners give it. */
export async function compactOnce(
  options: Pick<JobRunnerOptions, 'compactor' | 'metrics' | 'logger'>,
  nowMs: number,
): Promise<CompactionResult> {
  try {
    const result = await options.compactor.run(nowMs);
    options.metrics.runs.inc({ job: 'compaction', outcome: 'ok' });
    if (result.segmentsExpired + result.segmentsDroppedLocally + result.recordsDeleted > 0)
      options.logger.info({ result }, 'compaction');
    return result;
  } catch (err) {
    options.metrics.runs.inc({ job: 'compaction', outcome: 'failed' });
    throw err;
  }
}
