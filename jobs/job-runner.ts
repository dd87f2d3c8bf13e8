import type { Logger } from 'pino';
import { ConfigError, InvariantError } from '../core/index.js';
import { BackendOutage, within } from './backend-outage.js';
import type { KeyedJob, PeriodicJob } from './job-definition.js';
import type { JobMetrics } from './job-metrics.js';
import type { JobQueue, JobQueues, QueuedJob } from './job-queue.js';
import { MemoryQueue } from './memory-queue.js';
import { resolveRetryPolicy, retryDelayMs, type ResolvedRetryPolicy, type RetryPolicy } from './retry-policy.js';

/** Keyed jobs in hand at once per runner. */
export const DEFAULT_CONCURRENCY = 2;
/** The periodic job of a keyed job's queue that re-enqueues what is owed. */
export const SWEEP = 'sweep';
/** How long close() waits for scheduling that is stuck waiting for Redis. */
const READY_GRACE_MS = 1000;
/** How long close() waits for the jobs in hand, in ms: shutdown has a deadline whatever the backend does. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 1000;
/** How long adding a job may wait for the backend, in ms: past it the add fails and the next sweep redoes it. */
export const DEFAULT_ENQUEUE_TIMEOUT_MS = 5000;

export interface JobRunnerOptions extends RetryPolicy {
  /** Where the queues live: MemoryQueues, or BullMqQueues (jobs/bullmq) when REDIS_URL is set. */
  readonly queues: JobQueues;
  readonly periodic?: readonly PeriodicJob[];
  readonly keyed?: readonly KeyedJob[];
  /** Periodic jobs and sweeps run this often, in ms. */
  readonly intervalMs: number;
  readonly metrics: JobMetrics;
  readonly logger: Logger;
  /**
   * How long the queues' backend may be unreachable before periodic jobs run in process, in ms.
   * @defaultValue intervalMs (one tick missed)
   */
  readonly fallbackAfterMs?: number;
  /** How long close() waits for the jobs in hand, in ms. @defaultValue 1000 */
  readonly closeTimeoutMs?: number;
  /** How long adding a keyed job may wait for the backend, in ms. @defaultValue 5000 */
  readonly enqueueTimeoutMs?: number;
}

interface Lane {
  readonly queue: JobQueue;
  /** A periodic job's queue in process, used while the backend is away. */
  readonly local?: JobQueue;
  /** The periodic job's current run: the local and the backend's ticks never overlap. */
  running?: Promise<unknown>;
  readonly periodic?: PeriodicJob;
  readonly keyed?: KeyedJob;
}

/**
 * The one job runner. It owns the policy: periodic jobs every interval, keyed jobs retried with capped exponential
 * backoff, a dead letter after the last attempt (counted, logged with its error, re-driven by the next sweep), the
 * sweep of owed work, concurrency and the job metrics. Each job gets its own queue, named after it; a keyed job's
 * queue also carries its sweep. The queues (memory or BullMQ) only keep and deliver jobs.
 * Starting does not wait for the queues' backend: `ready` resolves once schedules are set and the first sweep is done.
 */
export class JobRunner {
  /** Resolves once every schedule is in place and the first sweep is done (never rejects). */
  readonly ready: Promise<void>;
  private readonly lanes = new Map<string, Lane>();
  private readonly retry: ResolvedRetryPolicy;
  private readonly outage: BackendOutage;
  private readonly fallbackTick: NodeJS.Timeout;
  private closed = false;

  private constructor(private readonly options: JobRunnerOptions) {
    this.retry = resolveRetryPolicy(options);
    if (!(options.intervalMs > 0)) throw new ConfigError('intervalMs', `must be above 0, got ${options.intervalMs}`);
    for (const job of options.periodic ?? []) this.addLane(job.name, { periodic: job });
    for (const job of options.keyed ?? []) {
      const concurrency = job.concurrency ?? DEFAULT_CONCURRENCY;
      if (!Number.isInteger(concurrency) || concurrency < 1)
        throw new ConfigError(`${job.name}.concurrency`, `must be a whole number of at least 1, got ${concurrency}`);
      this.addLane(job.name, { keyed: job });
    }
    for (const lane of this.lanes.values()) {
      const work = {
        concurrency: lane.keyed?.concurrency ?? (lane.keyed === undefined ? 1 : DEFAULT_CONCURRENCY),
        retryDelayMs: (attempt: number) => retryDelayMs(this.retry, attempt),
      };
      lane.queue.work((job) => this.dispatch(lane, job), work);
      lane.local?.work((job) => this.dispatch(lane, job), work);
    }
    this.outage = new BackendOutage(options.queues, options.fallbackAfterMs ?? options.intervalMs, options.logger);
    this.fallbackTick = setInterval(() => this.tickLocally(), options.intervalMs);
    this.fallbackTick.unref();
    this.ready = this.schedule();
  }

  /** Opens a queue per job, starts working them, and schedules periodic jobs and sweeps. */
  static start(options: JobRunnerOptions): JobRunner {
    return new JobRunner(options);
  }

  /** Runs a periodic job now through its queue (whichever runner takes it) and resolves with its result. */
  runNow(name: string): Promise<unknown> {
    const lane = this.lanes.get(name);
    if (lane?.periodic === undefined) return Promise.reject(new InvariantError(`no periodic job named "${name}"`));
    // While the backend is away nobody would take the job: run it here rather than wait for it.
    if (this.outage.down && lane.local !== undefined) return lane.local.run(name, undefined);
    return lane.queue.run(name, undefined);
  }

  /** Queues one unit of a keyed job (once: its id dedupes it). Never rejects: what fails, the next sweep redoes. */
  async enqueue(name: string, data: unknown): Promise<void> {
    const lane = this.lanes.get(name);
    if (lane?.keyed === undefined) throw new InvariantError(`no keyed job named "${name}"`);
    if (this.closed) return;
    if (this.outage.down) {
      // The add would wait for the backend; the sweep enqueues the work once it is back (the log still owes it).
      this.options.logger.debug({ job: name, data }, 'job queue backend unreachable: left to the next sweep');
      return;
    }
    try {
      await this.add(lane, lane.keyed, data);
    } catch (err) {
      // The backend is away or another runner moved the job meanwhile: the next sweep enqueues it if still owed.
      this.options.logger.warn({ err, job: name, data }, 'could not enqueue a job');
    }
  }

  /** Sweeps a keyed job now: enqueues everything owed, dead letters included. Resolves with how many were owed. */
  sweep(name: string): Promise<number> {
    const lane = this.lanes.get(name);
    if (lane?.keyed === undefined) return Promise.reject(new InvariantError(`no keyed job named "${name}"`));
    return this.sweepLane(lane, lane.keyed);
  }

  /**
   * Stops scheduling, waits for the jobs in hand (at most closeTimeoutMs: the jobs are idempotent and what is owed is
   * re-driven, so abandoning one loses nothing), and releases timers and connections.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.fallbackTick);
    const timeoutMs = this.options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    const lanes = [...this.lanes.values()].flatMap((lane) => [lane.queue.close(), lane.local?.close()]);
    await within(Promise.all(lanes), timeoutMs, 'closing the job queues').catch((err: unknown) =>
      this.options.logger.warn({ err, backendDown: this.outage.down }, 'left jobs in hand at shutdown'),
    );
    const backendDown = this.outage.down;
    await this.options.queues.close();
    // Scheduling that waited for the backend ends with its connection; do not wait long for it, nor at all if the
    // backend is away.
    if (!backendDown) await within(this.ready, READY_GRACE_MS, 'job scheduling').catch(() => undefined);
  }

  private addLane(name: string, jobs: Omit<Lane, 'queue' | 'local'>): void {
    if (this.lanes.has(name) || name === SWEEP) throw new ConfigError('jobs', `job name "${name}" is taken`);
    const local = jobs.periodic === undefined ? {} : { local: new MemoryQueue() };
    this.lanes.set(name, { queue: this.options.queues.open(name), ...local, ...jobs });
  }

  /** Every interval: while the backend has been away past the grace period, periodic jobs tick in process. */
  private tickLocally(): void {
    if (this.closed || !this.outage.fallbackNow()) return;
    for (const [name, lane] of this.lanes) {
      // The id keeps one local tick waiting at a time, as the memory queue's own schedule does.
      void lane.local?.add(name, undefined, { id: `fallback-${name}`, attempts: 1 });
    }
  }

  private async schedule(): Promise<void> {
    const everyMs = this.options.intervalMs;
    try {
      for (const [name, lane] of this.lanes) {
        await lane.queue.schedule([{ name: lane.keyed === undefined ? name : SWEEP, everyMs }]);
      }
      for (const lane of this.lanes.values()) if (lane.keyed !== undefined) await this.sweepLane(lane, lane.keyed);
    } catch (err) {
      // Closed while the backend was away, or a sweep failed: the next scheduled sweep (or start) does it.
      this.options.logger.warn({ err }, 'job scheduling did not finish');
    }
  }

  private dispatch(lane: Lane, job: QueuedJob): Promise<unknown> {
    if (lane.keyed !== undefined && job.name === SWEEP) return this.sweepLane(lane, lane.keyed);
    if (lane.keyed !== undefined && job.name === lane.keyed.name) {
      const keyed = lane.keyed;
      return this.attempt(job, true, () => keyed.run(job.data));
    }
    const periodic = lane.periodic;
    if (periodic !== undefined && job.name === periodic.name) {
      // One run at a time: a local tick and the backend's first tick after an outage must not overlap.
      const run = (lane.running ?? Promise.resolve())
        .catch(() => undefined)
        .then(() => this.attempt(job, false, () => periodic.run()));
      lane.running = run;
      return run;
    }
    // A job left in the queue by an older layout of the queues: drop it.
    this.options.logger.warn({ job: job.name, queue: [...this.lanes].find(([, l]) => l === lane)?.[0] }, 'unknown job');
    return Promise.resolve(undefined);
  }

  /** One attempt with its metrics and logs; a keyed job's last failed attempt makes it a dead letter. */
  private async attempt(job: QueuedJob, keyed: boolean, run: () => Promise<unknown>): Promise<unknown> {
    const { metrics, logger } = this.options;
    if (job.attempt > 1) metrics.retries.inc({ task: job.name });
    try {
      const result = await run();
      metrics.runs.inc({ task: job.name, outcome: 'ok' });
      return result;
    } catch (err) {
      metrics.runs.inc({ task: job.name, outcome: 'failed' });
      const context = { err, job: job.name, data: job.data, attempt: job.attempt };
      if (job.attempt < job.attempts) {
        logger.warn({ ...context, retryInMs: retryDelayMs(this.retry, job.attempt) }, 'job failed; retrying');
      } else if (keyed) {
        metrics.deadLettered.inc({ task: job.name });
        metrics.deadLetters.inc({ task: job.name });
        logger.error(context, 'job failed every attempt: dead-lettered until the next sweep re-drives it');
      } else {
        logger.error(context, 'job failed');
      }
      throw err;
    }
  }

  private async add(lane: Lane, keyed: KeyedJob, data: unknown): Promise<void> {
    const added = lane.queue.add(keyed.name, data, { id: keyed.idOf(data), attempts: this.retry.attempts });
    const outcome = await within(added, this.options.enqueueTimeoutMs ?? DEFAULT_ENQUEUE_TIMEOUT_MS, 'adding a job');
    if (outcome === 'redriven')
      this.options.logger.info({ job: keyed.name, data }, 'job re-driven from the dead letters');
  }

  private async sweepLane(lane: Lane, keyed: KeyedJob): Promise<number> {
    const { metrics, logger } = this.options;
    try {
      let owed = 0;
      for await (const data of keyed.owed()) {
        if (this.closed) break;
        owed += 1;
        await this.add(lane, keyed, data);
      }
      keyed.onSwept?.(owed);
      metrics.deadLetters.set({ task: keyed.name }, await lane.queue.deadLetterCount());
      metrics.runs.inc({ task: SWEEP, outcome: 'ok' });
      return owed;
    } catch (err) {
      metrics.runs.inc({ task: SWEEP, outcome: 'failed' });
      logger.error({ err, job: keyed.name }, 'sweep failed');
      throw err;
    }
  }
}
