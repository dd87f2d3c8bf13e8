import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Log } from '../../core/index.js';
import type { CompactionResult, Compactor } from './compaction.js';
import type { JobRunner } from './in-process-runner.js';
import type { JobMetrics } from './job-metrics.js';
import type { Replicator, SegmentRef } from './replicator.js';

export interface BullMqRunnerOptions {
  readonly redisUrl: string;
  /** BullMQ key prefix shared by a cluster. */
  readonly prefix: string;
  /** This broker's name: its log is local to it, so its queues are its own. */
  readonly brokerId: string;
  readonly log: Log;
  readonly compactor: Compactor;
  readonly replicator?: Replicator;
  readonly intervalMs: number;
  readonly metrics: JobMetrics;
  readonly logger: Logger;
  /** Attempts of a replication job before it is dead-lettered. @defaultValue 8 */
  readonly attempts?: number;
  /** First retry delay; it doubles each attempt. @defaultValue 1000 */
  readonly backoffMs?: number;
  readonly now?: () => number;
}

/** BullMQ job ids may not contain ':'; subjects may, so encode them. */
export function replicationJobId(ref: SegmentRef): string {
  return `r-${Buffer.from(ref.subject, 'utf8').toString('base64url')}-${ref.baseOffset}`;
}

/**
 * Jobs on BullMQ. Each broker gets queues named after its BROKER_ID under the shared prefix: a job scheduler runs
 * compaction every interval (once per broker, however many runners share the Redis), and each sealed segment becomes
 * a replication job with a deterministic id, so it is queued once, retried with exponential backoff, and kept in
 * the failed set (the dead letter) after its last attempt. A sweep job re-enqueues whatever the log still owes,
 * and retries dead letters, so an outage of Redis or the CQL server loses nothing: the log is the source of truth.
 */
export class BullMqRunner implements JobRunner {
  private readonly connection: Redis;
  private readonly compactionQueue: Queue;
  private readonly replicationQueue: Queue;
  private readonly workers: Worker[] = [];
  private readonly unsubscribe: () => void;
  private readonly now: () => number;

  private constructor(private readonly options: BullMqRunnerOptions) {
    this.now = options.now ?? Date.now;
    // maxRetriesPerRequest: null lets BullMQ's blocking calls wait through a Redis outage instead of failing.
    this.connection = new Redis(options.redisUrl, { maxRetriesPerRequest: null, enableOfflineQueue: true });
    this.connection.on('error', (err) => options.logger.warn({ err: err.message }, 'redis connection error'));
    const base = { connection: this.connection, prefix: options.prefix };
    this.compactionQueue = new Queue(`${options.brokerId}-compaction`, base);
    this.replicationQueue = new Queue(`${options.brokerId}-replication`, base);
    this.unsubscribe = options.log.onSegmentSealed((s) => void this.enqueue({ subject: s.subject, baseOffset: s.baseOffset }));
  }

  static async start(options: BullMqRunnerOptions): Promise<BullMqRunner> {
    const runner = new BullMqRunner(options);
    await runner.init();
    return runner;
  }

  private async init(): Promise<void> {
    const o = this.options;
    const base = { connection: this.connection, prefix: o.prefix };
    await this.compactionQueue.upsertJobScheduler('compaction', { every: o.intervalMs }, { name: 'compact' });
    await this.compactionQueue.upsertJobScheduler('sweep', { every: o.intervalMs }, { name: 'sweep' });
    this.workers.push(
      new Worker(
        this.compactionQueue.name,
        async (job: Job) => (job.name === 'sweep' ? { enqueued: await this.sweep() } : this.compactOnce()),
        { ...base, concurrency: 1 },
      ),
    );
    if (o.replicator !== undefined) {
      const replicator = o.replicator;
      const worker = new Worker(
        this.replicationQueue.name,
        async (job: Job<SegmentRef>) => {
          if (job.attemptsMade > 0) o.metrics.retries.inc({ job: 'replication' });
          const result = await replicator.replicate(job.data);
          o.metrics.runs.inc({ job: 'replication', outcome: 'ok' });
          return result;
        },
        { ...base, concurrency: 2 },
      );
      worker.on('failed', (job, err) => {
        o.metrics.runs.inc({ job: 'replication', outcome: 'failed' });
        if (job !== undefined && job.attemptsMade >= (job.opts.attempts ?? 1)) {
          o.metrics.deadLettered.inc({ job: 'replication' });
          o.logger.error({ err: err.message, segment: job.data, attempts: job.attemptsMade }, 'replication dead-lettered; the next sweep retries it');
        } else {
          o.logger.warn({ err: err.message, segment: job?.data }, 'replication failed; BullMQ retries it');
        }
      });
      this.workers.push(worker);
    }
    for (const w of this.workers) w.on('error', (err) => o.logger.warn({ err: err.message }, 'job worker error'));
    await this.sweep().catch((err: unknown) => o.logger.warn({ err }, 'initial sweep failed'));
  }

  private async compactOnce(): Promise<CompactionResult> {
    try {
      const result = await this.options.compactor.run(this.now());
      this.options.metrics.runs.inc({ job: 'compaction', outcome: 'ok' });
      return result;
    } catch (err) {
      this.options.metrics.runs.inc({ job: 'compaction', outcome: 'failed' });
      throw err;
    }
  }

  private async enqueue(ref: SegmentRef): Promise<void> {
    if (this.options.replicator === undefined) return;
    try {
      const jobId = replicationJobId(ref);
      const existing = await this.replicationQueue.getJob(jobId);
      if (existing !== undefined && (await existing.isFailed())) {
        await existing.retry('failed');
        return;
      }
      if (existing !== undefined && (await existing.isCompleted())) await existing.remove();
      await this.replicationQueue.add('replicate', ref, {
        jobId,
        attempts: this.options.attempts ?? 8,
        backoff: { type: 'exponential', delay: this.options.backoffMs ?? 1000 },
        removeOnComplete: true,
        removeOnFail: false,
      });
    } catch (err) {
      // Redis is away: the sweep enqueues it again once it is back.
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
    this.options.metrics.replicationLag.set(owed);
    return owed;
  }

  async runCompactionNow(): Promise<CompactionResult> {
    return this.compactOnce();
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
    await this.compactionQueue.close();
    await this.replicationQueue.close();
    this.connection.disconnect();
  }
}
