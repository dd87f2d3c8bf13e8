import { Queue, QueueEvents, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { AddOutcome, JobHandler, JobQueue, WorkOptions } from '../job-queue.js';

/** The backoff type whose delays the runner computes (BullMQ's own exponential one has no cap). */
const RUNNER_BACKOFF = 'runner';
/** Finished periodic jobs BullMQ keeps for inspection. */
const KEEP_FINISHED = 100;

/**
 * A JobQueue on BullMQ: the jobs are in Redis, shared by every runner of one broker. A keyed job is a BullMQ job with
 * that custom id (queued once however many runners add it); its dead letter is BullMQ's failed set
 * (`removeOnFail: false`); periodic jobs are job schedulers. Commands wait through a Redis outage
 * (`maxRetriesPerRequest: null` on the shared connection) instead of failing.
 */
export class BullMqQueue implements JobQueue {
  private readonly queue: Queue;
  private worker: Worker | undefined;
  private events: Promise<QueueEvents> | undefined;
  private eventsConnection: Redis | undefined;

  constructor(
    readonly name: string,
    private readonly connection: Redis,
    private readonly prefix: string,
    private readonly logger: Logger,
  ) {
    this.queue = new Queue(name, { connection, prefix });
    this.queue.on('error', (err: Error) => logger.warn({ err, queue: name }, 'job queue error'));
  }

  work(handler: JobHandler, options: WorkOptions): void {
    this.worker = new Worker(
      this.name,
      async (job: Job) =>
        handler({
          name: job.name,
          id: job.id,
          data: job.data,
          attempt: job.attemptsMade + 1,
          attempts: job.opts.attempts ?? 1,
        }),
      {
        connection: this.connection,
        prefix: this.prefix,
        concurrency: options.concurrency,
        settings: { backoffStrategy: (attemptsMade: number) => options.retryDelayMs(attemptsMade) },
      },
    );
    this.worker.on('error', (err) => this.logger.warn({ err, queue: this.name }, 'job worker error'));
  }

  async add(name: string, data: unknown, options: { id?: string; attempts: number }): Promise<AddOutcome> {
    const { id, attempts } = options;
    if (id !== undefined) {
      const existing = await this.queue.getJob(id);
      if (existing !== undefined) {
        const state = await existing.getState();
        if (state === 'failed') {
          await existing.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
          return 'redriven';
        }
        if (state !== 'completed') return 'present';
        await existing.remove();
      }
    }
    await this.queue.add(name, data, {
      ...(id === undefined ? {} : { jobId: id }),
      attempts,
      ...(attempts > 1 ? { backoff: { type: RUNNER_BACKOFF } } : {}),
      removeOnComplete: true,
      removeOnFail: id === undefined ? KEEP_FINISHED : false,
    });
    return 'added';
  }

  async run(name: string, data: unknown): Promise<unknown> {
    const events = await this.queueEvents();
    const job = await this.queue.add(name, data, { removeOnComplete: KEEP_FINISHED, removeOnFail: KEEP_FINISHED });
    return job.waitUntilFinished(events);
  }

  async schedule(jobs: readonly { name: string; everyMs: number }[]): Promise<void> {
    for (const { name, everyMs } of jobs) {
      // A failed tick is not a dead letter: the next tick replaces it, so it is not kept in the failed set.
      await this.queue.upsertJobScheduler(
        name,
        { every: everyMs },
        { name, opts: { removeOnComplete: KEEP_FINISHED, removeOnFail: true } },
      );
    }
    const wanted = new Set(jobs.map((j) => j.name));
    for (const scheduler of await this.queue.getJobSchedulers()) {
      if (!wanted.has(scheduler.key)) await this.queue.removeJobScheduler(scheduler.key);
    }
  }

  deadLetterCount(): Promise<number> {
    return this.queue.getFailedCount();
  }

  async close(): Promise<void> {
    // Worker.close waits for the jobs in hand.
    await this.worker?.close();
    if (this.events !== undefined) await (await this.events).close();
    this.eventsConnection?.disconnect();
    await this.queue.close();
  }

  private queueEvents(): Promise<QueueEvents> {
    this.events ??= (async () => {
      this.eventsConnection = this.connection.duplicate();
      this.eventsConnection.on('error', () => undefined); // reported by the shared connection
      const events = new QueueEvents(this.name, { connection: this.eventsConnection, prefix: this.prefix });
      await events.waitUntilReady();
      return events;
    })();
    return this.events;
  }
}
