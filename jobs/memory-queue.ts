import { UnavailableError } from '../core/index.js';
import type { AddOutcome, JobHandler, JobQueue, JobQueues, QueuedJob, WorkOptions } from './job-queue.js';

/** Id prefix of periodic ticks. */
const TICK = 'every:';

interface Entry {
  readonly name: string;
  readonly id: string | undefined;
  readonly data: unknown;
  readonly attempts: number;
  /** Failed attempts so far. */
  failed: number;
  state: 'waiting' | 'delayed' | 'active' | 'dead';
  /** For `run`: who waits for the result. */
  readonly settle?: { resolve(value: unknown): void; reject(err: unknown): void };
}

/**
 * The embedded JobQueue (no Redis): jobs in the process, lost with it. Nothing is lost for the broker, because the
 * runner's sweep rebuilds keyed jobs from the log, the source of truth for what is owed.
 */
export class MemoryQueue implements JobQueue {
  private readonly waiting: Entry[] = [];
  private readonly byId = new Map<string, Entry>();
  private readonly inHand = new Set<Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private ticks: NodeJS.Timeout[] = [];
  private handler: JobHandler | undefined;
  private options: WorkOptions = { concurrency: 1, retryDelayMs: () => 0 };
  private closed = false;

  work(handler: JobHandler, options: WorkOptions): void {
    this.handler = handler;
    this.options = options;
    this.pump();
  }

  async add(name: string, data: unknown, options: { id?: string; attempts: number }): Promise<AddOutcome> {
    if (this.closed) return 'present';
    const existing = options.id === undefined ? undefined : this.byId.get(options.id);
    if (existing !== undefined) {
      if (existing.state !== 'dead') return 'present';
      existing.failed = 0;
      this.enqueue(existing);
      return 'redriven';
    }
    const entry: Entry = { name, id: options.id, data, attempts: options.attempts, failed: 0, state: 'waiting' };
    if (entry.id !== undefined) this.byId.set(entry.id, entry);
    this.enqueue(entry);
    return 'added';
  }

  run(name: string, data: unknown): Promise<unknown> {
    if (this.closed) return Promise.reject(new UnavailableError('the job queue is closed'));
    return new Promise((resolve, reject) => {
      this.enqueue({
        name,
        id: undefined,
        data,
        attempts: 1,
        failed: 0,
        state: 'waiting',
        settle: { resolve, reject },
      });
    });
  }

  async schedule(jobs: readonly { name: string; everyMs: number }[]): Promise<void> {
    for (const t of this.ticks) clearInterval(t);
    this.ticks = jobs.map(({ name, everyMs }) => {
      // The id keeps one tick of a job waiting at a time: a pass slower than the interval does not pile up.
      const t = setInterval(() => void this.add(name, undefined, { id: `${TICK}${name}`, attempts: 1 }), everyMs);
      t.unref();
      return t;
    });
  }

  async deadLetterCount(): Promise<number> {
    let n = 0;
    for (const entry of this.byId.values()) if (entry.state === 'dead') n += 1;
    return n;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.ticks) clearInterval(t);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const entry of this.waiting.splice(0)) entry.settle?.reject(new UnavailableError('the job queue closed'));
    await Promise.all(this.inHand);
  }

  private enqueue(entry: Entry): void {
    entry.state = 'waiting';
    this.waiting.push(entry);
    this.pump();
  }

  private pump(): void {
    while (!this.closed && this.handler !== undefined && this.inHand.size < this.options.concurrency) {
      const entry = this.waiting.shift();
      if (entry === undefined) return;
      const attempt = this.attempt(this.handler, entry).finally(() => {
        this.inHand.delete(attempt);
        this.pump();
      });
      this.inHand.add(attempt);
    }
  }

  private async attempt(handler: JobHandler, entry: Entry): Promise<void> {
    entry.state = 'active';
    const job: QueuedJob = { ...entry, attempt: entry.failed + 1 };
    try {
      const result = await handler(job);
      this.forget(entry);
      entry.settle?.resolve(result);
    } catch (err) {
      entry.failed = job.attempt;
      if (job.attempt >= entry.attempts) {
        // Only keyed jobs become dead letters: an anonymous one could never be added again, a periodic tick is
        // replaced by the next.
        if (entry.id === undefined || entry.id.startsWith(TICK)) this.forget(entry);
        else entry.state = 'dead';
        entry.settle?.reject(err);
        return;
      }
      this.retryLater(entry, this.options.retryDelayMs(job.attempt));
    }
  }

  private forget(entry: Entry): void {
    if (entry.id !== undefined) this.byId.delete(entry.id);
  }

  private retryLater(entry: Entry, delayMs: number): void {
    entry.state = 'delayed';
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.closed) this.enqueue(entry);
    }, delayMs);
    t.unref();
    this.timers.add(t);
  }
}

/** Memory queues: nothing shared to release. */
export class MemoryQueues implements JobQueues {
  readonly kind = 'memory' as const;
  open(): JobQueue {
    return new MemoryQueue();
  }
  async close(): Promise<void> {}
}
