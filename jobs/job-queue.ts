/** One attempt of a job, as a queue hands it to the runner's handler. */
export interface QueuedJob {
  readonly name: string;
  /** The job's deterministic id, when it was added with one. */
  readonly id: string | undefined;
  readonly data: unknown;
  /** This attempt, from 1. */
  readonly attempt: number;
  /** Attempts the job was added with: a failure of the last one makes it a dead letter. */
  readonly attempts: number;
}

/** Runs one attempt; a rejection fails the attempt, the resolved value is the job's result. */
export type JobHandler = (job: QueuedJob) => Promise<unknown>;

/** How a queue works its jobs off. */
export interface WorkOptions {
  /** Jobs of this queue in hand at once, in this process. */
  readonly concurrency: number;
  /** The delay before attempt `attempt + 1` of a failed job, in ms. */
  readonly retryDelayMs: (attempt: number) => number;
}

/** What `add` did with a job. */
export type AddOutcome = 'added' | 'present' | 'redriven';

/**
 * One named queue of jobs: storage, delivery and the mechanics of retrying, for the job runner (jobs/job-runner.ts).
 *
 * It owns: keeping jobs (deterministic ids dedupe them), handing them to the handler at most `concurrency` at once,
 * re-delivering a failed attempt after the delay the runner computes, keeping a job that failed its last attempt as
 * a dead letter until it is added again, ticking periodic jobs, and waiting for the jobs in hand on close. The
 * in-memory queue keeps this in the process; the BullMQ queue in Redis (shared by every runner of one broker).
 *
 * It excludes policy: what runs when, how many attempts, the backoff curve, what the sweep re-drives, metrics and
 * logs are the runner's. A queue never interprets a job's data.
 */
export interface JobQueue {
  /** Starts handing jobs to `handler`. Called once. */
  work(handler: JobHandler, options: WorkOptions): void;
  /**
   * Adds a job. With an id it is idempotent: nothing while a job with that id waits, is delayed for a retry or runs
   * ('present'); a dead letter with that id is re-driven with all its attempts ('redriven').
   */
  add(name: string, data: unknown, options: { readonly id?: string; readonly attempts: number }): Promise<AddOutcome>;
  /** Adds a job of one attempt and resolves with its result (or rejects with its failure), whoever runs it. */
  run(name: string, data: unknown): Promise<unknown>;
  /**
   * Makes the queue's periodic jobs exactly these: each named job is added every `everyMs` (one job per tick however
   * many runners share the queue), and periodic jobs not listed are removed.
   */
  schedule(jobs: readonly { readonly name: string; readonly everyMs: number }[]): Promise<void>;
  /** Dead letters held now. */
  deadLetterCount(): Promise<number>;
  /** Stops ticking and taking jobs, waits for the jobs in hand, and releases what it holds. */
  close(): Promise<void>;
}

/** Where a runner's queues live (memory or Redis): opens them by name and releases what they share. */
export interface JobQueues {
  /** Which backend, for logs. */
  readonly kind: 'memory' | 'bullmq';
  open(name: string): JobQueue;
  /**
   * Since when (ms since the epoch) the backend has been unreachable, or undefined while it is reachable. While it
   * is away its queues deliver nothing and their commands wait, so the runner falls back (see BackendOutage).
   * Absent: the backend is the process itself, never away.
   */
  unreachableSince?(): number | undefined;
  /** Releases shared resources (waits on the backend end with it); called after the queues are closed or abandoned. */
  close(): Promise<void>;
}
