import type { Logger } from 'pino';
import { UnavailableError } from '../core/index.js';
import type { JobQueues } from './job-queue.js';

/**
 * Watches the queues' backend (Redis) for the runner: a queue whose backend is away does not deliver, and its
 * commands wait until it is back. The runner's policy on an outage: periodic jobs run in process once the backend has
 * been away longer than the grace period, keyed jobs are not enqueued (the sweep re-drives them once it is back), and
 * waits on the backend are bounded.
 */
export class BackendOutage {
  private inFallback = false;

  constructor(
    private readonly queues: JobQueues,
    private readonly graceMs: number,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** The backend is unreachable now (however briefly). */
  get down(): boolean {
    return this.queues.unreachableSince?.() !== undefined;
  }

  /**
   * The backend has been unreachable longer than the grace period: periodic jobs should run in process. Logs the
   * transitions into and out of the fallback once each.
   */
  fallbackNow(): boolean {
    const since = this.queues.unreachableSince?.();
    const fallback = since !== undefined && this.now() - since >= this.graceMs;
    if (fallback !== this.inFallback) {
      this.inFallback = fallback;
      if (fallback)
        this.logger.warn(
          { queues: this.queues.kind, downForMs: this.now() - (since ?? 0) },
          'job queue backend unreachable: periodic jobs run in process until it is back',
        );
      else this.logger.info({ queues: this.queues.kind }, 'job queue backend back: periodic jobs run through it again');
    }
    return fallback;
  }
}

/** Resolves with the promise's outcome, or rejects with UnavailableError once `ms` have passed. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    // Not unref'd: the caller waits on it (it is cleared as soon as the promise settles).
    timer = setTimeout(() => reject(new UnavailableError(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
