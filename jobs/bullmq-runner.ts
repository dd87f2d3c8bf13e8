import { Queue, QueueEvents, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { CompactionResult } from '../retention/compaction.js';
import {
  DEFAULT_ATTEMPTS,
  DEFAULT_BACKOFF_MS,
  compactOnce,
  type JobRunner,
  type JobRunnerOptions,
} from './job-runner.js';
import type { SegmentRef } from '../core/index.js';

export interface BullMqRunnerOptions extends JobRunnerOptions {
  readonly redisUrl: string;
  /** BullMQ key prefix shared by a cluster (BROKER_QUEUE_PREFIX). */
  readonly prefix: string;
  /** This broker's name (BROKER_ID): its log is local to it, so its queues are its own. */
  readonly brokerId: string;
  /** Replication jobs this runner works on at once. @defaultValue 2 */
  readonly replicationConcurrency?: number;
}

/**
 * The replication job id of a segment: deterministic, so a segment is queued once however many sweeps and seal
 * events ask. BullMQ refuses ':' in custom ids and subjects may hold one, so the subject is base64url-encoded.
 */
export function replicationJobId(ref: SegmentRef): string {
  return `r-${Buffer.from(ref.subject, 'utf8').toString('base64url')}-${ref.baseOffset}`;
}

/** The queue names of one broker under the shared prefix. */
export function queueNames(brokerId: string): { compaction: string; replication: string } {
  return { compaction: `${brokerId}-compaction`, replication: `${brokerId}-replication` };
}

/**
 * Jobs on BullMQ. Each broker gets its own queues, named after its BROKER_ID under the shared prefix, because its log
 * is local to it. A job scheduler runs compaction and the owed-segment sweep every interval (one job per tick however
 * many runners of the broker share the Redis). Each sealed segment becomes a replication job with a deterministic id,
 * retried with exponential backoff and kept in the failed set after its last attempt (the dead letter: counted,
 * logged, re-driven by the next sweep). Redis or the CQL server being away loses nothing: the log is the source of
 * truth for what is owed, and the sweep enqueues it again. Startup does not wait for Redis.
 */
export class BullMqRunner implements JobRunner {
  private readonly connection: Redis;
  private readonly compactionQueue: Queue;
  private readonly replicationQueue: Queue;
  private readonly workers: Worker[] = [];
  private events: Promise<QueueEvents> | undefined;
  private eventsConnection: Redis | undefined;
  private readonly unsubscribe: () => void;
  private readonly now: () => number;
  /** Resolves once the job schedulers are in Redis and the first sweep is done (waits for Redis if it is away). */
  readonly ready: Promise<void>;

  private constructor(private readonly options: BullMqRunnerOptions) {
    this.now = options.now ?? Date.now;
    // maxRetriesPerRequest: null lets commands wait through a Redis outage instead of failing (BullMQ requires it).
    this.connection = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
    this.connection.on('error', (err: Error) => options.logger.warn({ err: err.message }, 'redis connection error'));
    const base = { connection: this.connection, prefix: options.prefix };
    const names = queueNames(options.brokerId);
    this.compactionQueue = new Queue(names.compaction, base);
    this.replicationQueue = new Queue(names.replication, base);
    for (const q of [this.compactionQueue, this.replicationQueue])
      q.on('error', (err: Error) => options.logger.warn({ err: err.message }, 'job queue error'));
    this.startWorkers();
    this.unsubscribe = options.log.onSegmentSealed((s) => {
      options.metrics.addLag(1);
      void this.enqueue({ subject: s.subject, baseOffset: s.baseOffset });
    });
    this.ready = this.schedule();
  }

  static async start(options: BullMqRunnerOptions): Promise<BullMqRunner> {
    return new BullMqRunner(options);
  }

  private startWorkers(): void {
    const o = this.options;
    const base = { connection: this.connection, prefix: o.prefix };
    const compaction = new Worker(
      this.compactionQueue.name,
      async (job: Job) => (job.name === 'sweep' ? { enqueued: await this.sweep() } : this.compact()),
      { ...base, concurrency: 1 },
    );
    compaction.on('failed', (job, err) => o.logger.error({ err: err.message, job: job?.name }, 'job failed'));
    this.workers.push(compaction);
    if (o.replicator !== undefined) {
      const replicator = o.replicator;
      const replication = new Worker(
        this.replicationQueue.name,
        async (job: Job<SegmentRef>) => {
          if (job.attemptsMade > 0) o.metrics.retries.inc({ job: 'replication' });
          const result = await replicator.replicate(job.data);
          o.metrics.runs.inc({ job: 'replication', outcome: 'ok' });
          return result;
        },
        { ...base, concurrency: o.replicationConcurrency ?? 2 },
      );
      replication.on('failed', (job, err) => {
        o.metrics.runs.inc({ job: 'replication', outcome: 'failed' });
        if (job !== undefined && job.attemptsMade >= (job.opts.attempts ?? 1)) {
          o.metrics.deadLettered.inc({ job: 'replication' });
          o.logger.error(
            { err: err.message, segment: job.data, attempts: job.attemptsMade },
            'replication dead-lettered; the next sweep re-drives it',
          );
        } else {
          o.logger.warn(
            { err: err.message, segment: job?.data, attempt: job?.attemptsMade },
            'replication failed; BullMQ retries it',
          );
        }
      });
      this.workers.push(replication);
    }
    for (const w of this.workers) w.on('error', (err) => o.logger.warn({ err: err.message }, 'job worker error'));
  }

  private async schedule(): Promise<void> {
    const every = this.options.intervalMs;
    try {
      await this.compactionQueue.upsertJobScheduler(
        'compaction',
        { every },
        { name: 'compact', opts: { removeOnComplete: 100, removeOnFail: 100 } },
      );
      await this.compactionQueue.upsertJobScheduler(
        'sweep',
        { every },
        { name: 'sweep', opts: { removeOnComplete: 100, removeOnFail: 100 } },
      );
      await this.sweep();
    } catch (err) {
      // Closed while Redis was away, or a sweep failed: the next scheduled sweep (or start) does it.
      this.options.logger.warn({ err: (err as Error).message }, 'job scheduling did not finish');
    }
  }

  private compact(): Promise<CompactionResult> {
    return compactOnce(this.options, this.now());
  }

  /** Queues a segment's replication once: a failed (dead-lettered) job is retried, a finished one replaced. */
  private async enqueue(ref: SegmentRef): Promise<void> {
    if (this.options.replicator === undefined) return;
    try {
      const jobId = replicationJobId(ref);
      const existing = await this.replicationQueue.getJob(jobId);
      if (existing !== undefined) {
        const state = await existing.getState();
        if (state === 'failed') {
          await existing.retry('failed');
          this.options.logger.info({ segment: ref }, 'replication re-driven from the dead letters');
          return;
        }
        if (state !== 'completed') return;
        await existing.remove();
      }
      await this.replicationQueue.add('replicate', ref, {
        jobId,
        attempts: this.options.attempts ?? DEFAULT_ATTEMPTS,
        backoff: { type: 'exponential', delay: this.options.backoffMs ?? DEFAULT_BACKOFF_MS },
        removeOnComplete: true,
        removeOnFail: false,
      });
    } catch (err) {
      // Redis is away or another runner moved the job meanwhile: the next sweep enqueues it again if still owed.
      this.options.logger.warn({ err: (err as Error).message, segment: ref }, 'could not enqueue replication');
    }
  }

  private async sweep(): Promise<number> {
    const replicator = this.options.replicator;
    if (replicator === undefined) return 0;
    let owed = 0;
    for await (const ref of replicator.owed()) {
      owed += 1;
      await this.enqueue(ref);
    }
    this.options.metrics.setLag(owed);
    this.options.metrics.deadLetters.set({ job: 'replication' }, await this.replicationQueue.getFailedCount());
    this.options.metrics.runs.inc({ job: 'sweep', outcome: 'ok' });
    return owed;
  }

  private queueEvents(): Promise<QueueEvents> {
    this.events ??= (async () => {
      this.eventsConnection = this.connection.duplicate();
      this.eventsConnection.on('error', () => undefined); // reported by the main connection
      const events = new QueueEvents(this.compactionQueue.name, {
        connection: this.eventsConnection,
        prefix: this.options.prefix,
      });
      await events.waitUntilReady();
      return events;
    })();
    return this.events;
  }

  /** Adds a compaction job to this broker's queue and waits for whichever runner takes it. */
  async runCompactionNow(): Promise<CompactionResult> {
    const events = await this.queueEvents();
    const job = await this.compactionQueue.add('compact', {}, { removeOnComplete: 100, removeOnFail: 100 });
    return (await job.waitUntilFinished(events)) as CompactionResult;
  }

  async replicateOwedNow(): Promise<number> {
    const replicator = this.options.replicator;
    if (replicator === undefined) return 0;
    let done = 0;
    for await (const ref of replicator.owed()) if ((await replicator.replicate(ref)) !== 'skipped') done += 1;
    return done;
  }

  async close(): Promise<void> {
    this.unsubscribe();
    await Promise.all(this.workers.map((w) => w.close()));
    if (this.events !== undefined) await (await this.events).close();
    this.eventsConnection?.disconnect();
    await this.compactionQueue.close();
    await this.replicationQueue.close();
    this.connection.disconnect();
    // Scheduling that waited for Redis ends with the connection; do not wait long for it.
    await Promise.race([this.ready, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
  }
}
