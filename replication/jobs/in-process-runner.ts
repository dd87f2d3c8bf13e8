import type { Logger } from 'pino';
import type { Log } from '../../core/index.js';
import type { Compactor, CompactionResult } from './compaction.js';
import type { JobMetrics } from './job-metrics.js';
import type { Replicator, SegmentRef } from './replicator.js';

export interface JobRunner {
  /** Runs a compaction pass now (tests and `broker worker --once`). */
  runCompactionNow(): Promise<CompactionResult>;
  /** Replicates every owed segment now; resolves when done. */
  replicateOwedNow(): Promise<number>;
  close(): Promise<void>;
}

export interface InProcessRunnerOptions {
  readonly log: Log;
  readonly compactor: Compactor;
  readonly replicator?: Replicator;
  readonly intervalMs: number;
  readonly metrics: JobMetrics;
  readonly logger: Logger;
  /** Attempts of one replication before it is dead-lettered (the next sweep re-drives it). @defaultValue 8 */
  readonly maxAttempts?: number;
  readonly now?: () => number;
}

/**
 * The embedded job runner (no Redis): compaction on a timer, replication when a segment is sealed plus a periodic
 * sweep of owed segments, retries with exponential backoff. The log is the source of truth for what is owed, so a
 * restart loses nothing: the first sweep finds every sealed, unreplicated segment again.
 */
export class InProcessRunner implements JobRunner {
  private readonly timer: NodeJS.Timeout;
  private readonly queued = new Map<string, SegmentRef>();
  private readonly attempts = new Map<string, number>();
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private draining: Promise<void> | undefined;
  private compacting: Promise<CompactionResult> | undefined;
  private closed = false;
  private readonly unsubscribe: () => void;
  private readonly now: () => number;

  constructor(private readonly options: InProcessRunnerOptions) {
    this.now = options.now ?? Date.now;
    this.unsubscribe = options.log.onSegmentSealed((s) => this.enqueue({ subject: s.subject, baseOffset: s.baseOffset }));
    this.timer = setInterval(() => void this.tick(), options.intervalMs);
    this.timer.unref();
    void this.sweep();
  }

  private async tick(): Promise<void> {
    await this.runCompactionNow().catch(() => undefined);
    await this.sweep();
  }

  async runCompactionNow(): Promise<CompactionResult> {
    this.compacting ??= (async () => {
      try {
        const result = await this.options.compactor.run(this.now());
        this.options.metrics.runs.inc({ job: 'compaction', outcome: 'ok' });
        if (result.segmentsExpired + result.segmentsDroppedLocally + result.recordsDeleted > 0) this.options.logger.info({ result }, 'compaction');
        return result;
      } catch (err) {
        this.options.metrics.runs.inc({ job: 'compaction', outcome: 'failed' });
        this.options.logger.error({ err }, 'compaction failed');
        throw err;
      } finally {
        this.compacting = undefined;
      }
    })();
    return this.compacting;
  }

  private async sweep(): Promise<void> {
    const replicator = this.options.replicator;
    if (replicator === undefined || this.closed) return;
    let owed = 0;
    try {
      for await (const ref of replicator.owed()) {
        owed += 1;
        this.enqueue(ref);
      }
      this.options.metrics.replicationLag.set(owed);
    } catch (err) {
      this.options.logger.error({ err }, 'replication sweep failed');
    }
  }

  private enqueue(ref: SegmentRef): void {
    if (this.options.replicator === undefined || this.closed) return;
    this.queued.set(`${ref.subject}\u0000${ref.baseOffset}`, ref);
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
    });
  }

  private async drain(): Promise<void> {
    const replicator = this.options.replicator!;
    while (this.queued.size > 0 && !this.closed) {
      const [key, ref] = this.queued.entries().next().value as [string, SegmentRef];
      this.queued.delete(key);
      const attempt = (this.attempts.get(key) ?? 0) + 1;
      if (attempt > 1) this.options.metrics.retries.inc({ job: 'replication' });
      try {
        await replicator.replicate(ref);
        this.attempts.delete(key);
        this.options.metrics.runs.inc({ job: 'replication', outcome: 'ok' });
      } catch (err) {
        this.options.metrics.runs.inc({ job: 'replication', outcome: 'failed' });
        if (attempt >= (this.options.maxAttempts ?? 8)) {
          this.attempts.delete(key);
          this.options.metrics.deadLettered.inc({ job: 'replication' });
          this.options.logger.error({ err, segment: ref, attempts: attempt }, 'replication dead-lettered; the next sweep retries it');
          continue;
        }
        this.attempts.set(key, attempt);
        const delay = Math.min(1000 * 2 ** (attempt - 1), 60_000);
        this.options.logger.warn({ err: (err as Error).message, segment: ref, attempt, retryInMs: delay }, 'replication failed; retrying');
        const t = setTimeout(() => {
          this.retryTimers.delete(t);
          this.enqueue(ref);
        }, delay);
        t.unref();
        this.retryTimers.add(t);
      }
    }
  }

  async replicateOwedNow(): Promise<number> {
    const replicator = this.options.replicator;
    if (replicator === undefined) return 0;
    let done = 0;
    for await (const ref of replicator.owed()) {
      if ((await replicator.replicate(ref)) !== 'skipped') done += 1;
    }
    return done;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    for (const t of this.retryTimers) clearTimeout(t);
    this.unsubscribe();
    await this.draining;
    await this.compacting?.catch(() => undefined);
  }
}
