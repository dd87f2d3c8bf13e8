import { UnavailableError } from '../../core/index.js';

/** What a client should do about a call the shutdown refused or ended; the status message ends with it. */
export const SHUTDOWN_ADVICE = {
  newCall: 'retry against another broker or after restart',
  subscription: 'resubscribe from the next id',
  publishStream: 'publish the requests not acknowledged on this stream again',
} as const;

/** The one UNAVAILABLE a shutting-down broker answers with; only the advice differs by what it interrupted. */
export function shuttingDownError(advice: (typeof SHUTDOWN_ADVICE)[keyof typeof SHUTDOWN_ADVICE]): UnavailableError {
  // The metadata lets a worker holding an upstream subscription tell "going away, resume" from a failed log.
  return new UnavailableError(`the broker is shutting down; ${advice}`, { metadata: { shutdown: 'true' } });
}

/** An open stream the shutdown must end (it acknowledges what it owes, then ends with UNAVAILABLE). */
export interface ShutdownListener {
  shutdown(): void;
}

/**
 * Admission of calls and the graceful shutdown's bookkeeping: whether the broker still takes calls, how many
 * appends are in flight (the shutdown waits for them), and which streams are open (the shutdown ends them).
 */
export class CallGate {
  private closing = false;
  private inFlight = 0;
  private drained: Array<() => void> = [];
  private readonly streams = new Set<ShutdownListener>();

  get shuttingDown(): boolean {
    return this.closing;
  }

  /** Throws UNAVAILABLE once the shutdown has begun: every entry point runs this before any work. */
  admit(): void {
    if (this.closing) throw shuttingDownError(SHUTDOWN_ADVICE.newCall);
  }

  /** Runs `work` as admitted work (enter, then leave when it settles); refused (UNAVAILABLE) once shutting down. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    this.enter();
    try {
      return await work();
    } finally {
      this.leave();
    }
  }

  /** Admits one unit of work the shutdown waits for; pair it with leave(). */
  enter(): void {
    this.admit();
    this.inFlight += 1;
  }

  leave(): void {
    this.inFlight -= 1;
    if (this.inFlight === 0 && this.drained.length > 0) {
      const waiting = this.drained;
      this.drained = [];
      for (const done of waiting) done();
    }
  }

  track(stream: ShutdownListener): void {
    this.streams.add(stream);
  }

  untrack(stream: ShutdownListener): void {
    this.streams.delete(stream);
  }

  /** Stops admitting calls and ends every open stream. */
  beginShutdown(): void {
    this.closing = true;
    for (const stream of [...this.streams]) stream.shutdown();
    this.streams.clear();
  }

  /** Resolves true when no admitted work is in flight, or false after timeoutMs. */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.inFlight === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      new Promise<boolean>((resolve) => this.drained.push(() => resolve(true))),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    return done;
  }
}
