import type { CompactionResult } from '../retention/compaction.js';
import {
  DEFAULT_ATTEMPTS,
  DEFAULT_BACKOFF_MS,
  backoffMs,
  compactOnce,
  type JobRunner,
  type JobRunnerOptions,
} from './job-runner.js';
import type { SegmentRef } from '../core/index.js';

export interface InProcessRunnerOptions extends JobRunnerOptions {
  /** Longest retry delay in ms. @defaultValue 60000 */
  readonly maxBackoffMs?: number;
}

const keyOf = (ref: SegmentRef): string => `${ref.subject}\u0000${ref.baseOffset}`;

/**
 * The embedded job runner (no Redis): compaction on a timer, replication when a segment is sealed plus a periodic
 * sweep of owed segments, one replication at a time with exponential backoff, and a dead-letter set (failed every
 * attempt; counted, logged, re-driven by the next sweep). The log is the source of truth for what is owed, so a
 * restart loses nothing: the first sweep finds every sealed, unreplicated segment again.
 */
export class InProcessRunner implements JobRunner {
  private readonly timer: NodeJS.Timeout;
  private readonly queued = new Map<string, SegmentRef>();
  private readonly attempts = new Map<string, number>();
  private readonly retryTimers = new Map<string, NodeJS.Timeout>();
  private readonly deadLetters = new Set<string>();
  private draining: Promise<void> | undefined;
  private compacting: Promise<CompactionResult> | undefined;
  private sweeping: Promise<void> | undefined;
  private closed = false;
  private readonly unsubscribe: () => void;
  private readonly now: () => number;

  constructor(private readonly options: InProcessRunnerOptions) {
    this.now = options.now ?? Date.now;
    this.unsubscribe = options.log.onSegmentSealed((s) => {
      options.metrics.addLag(1);
      this.enqueue({ subject: s.subject, baseOffset: s.baseOffset });
    });
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
        return await compactOnce(this.options, this.now());
      } catch (err) {
        this.options.logger.error({ err }, 'compaction failed');
        throw err;
      } finally {
        this.compacting = undefined;
      }
    })();
    return this.compacting;
  }

  /** Enqueues every owed segment (dead letters included: a sweep re-drives them) and measures the lag. */
  private sweep(): Promise<void> {
    const replicator = this.options.replicator;
    if (replicator === undefined || this.closed) return Promise.resolve();
    this.sweeping ??= (async () => {
      let owed = 0;
      try {
        for await (const ref of replicator.owed()) {
          owed += 1;
          const key = keyOf(ref);
          if (this.deadLetters.delete(key))
            this.options.logger.info({ segment: ref }, 'replication re-driven from the dead letters');
          if (!this.retryTimers.has(key)) this.enqueue(ref);
        }
        this.options.metrics.setLag(owed);
        this.options.metrics.deadLetters.set({ job: 'replication' }, this.deadLetters.size);
      } catch (err) {
        this.options.logger.error({ err }, 'replication sweep failed');
      } finally {
        this.sweeping = undefined;
      }
    })();
    return this.sweeping;
  }

  private enqueue(ref: SegmentRef): void {
    if (this.options.replicator === undefined || this.closed) return;
    this.queued.set(keyOf(ref), ref);
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
    });
  }

  private async drain(): Promise<void> {
    const replicator = this.options.replicator!;
    const { metrics, logger } = this.options;
    while (this.queued.size > 0 && !this.closed) {
      const [key, ref] = this.queued.entries().next().value as [string, SegmentRef];
      this.queued.delete(key);
      const attempt = (this.attempts.get(key) ?? 0) + 1;
      if (attempt > 1) metrics.retries.inc({ job: 'replication' });
      try {
        await replicator.replicate(ref);
        this.attempts.delete(key);
        metrics.runs.inc({ job: 'replication', outcome: 'ok' });
      } catch (err) {
        metrics.runs.inc({ job: 'replication', outcome: 'failed' });
        if (attempt >= (this.options.attempts ?? DEFAULT_ATTEMPTS)) {
          this.attempts.delete(key);
          this.deadLetters.add(key);
          metrics.deadLettered.inc({ job: 'replication' });
          metrics.deadLetters.set({ job: 'replication' }, this.deadLetters.size);
          logger.error(
            { err, segment: ref, attempts: attempt },
            'replication dead-lettered; the next sweep re-drives it',
          );
          continue;
        }
        this.attempts.set(key, attempt);
        const delay = backoffMs(attempt, this.options.backoffMs ?? DEFAULT_BACKOFF_MS, this.options.maxBackoffMs);
        logger.warn(
          { err: (err as Error).message, segment: ref, attempt, retryInMs: delay },
          'replication failed; retrying',
        );
        const t = setTimeout(() => {
          this.retryTimers.delete(key);
          this.enqueue(ref);
        }, delay);
        t.unref();
        this.retryTimers.set(key, t);
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
    for (const t of this.retryTimers.values()) clearTimeout(t);
    this.retryTimers.clear();
    this.unsubscribe();
    await this.sweeping;
    await this.draining;
    await this.compacting?.catch(() => undefined);
  }
}
