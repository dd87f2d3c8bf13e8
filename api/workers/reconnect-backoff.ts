/**
 * Capped exponential backoff with jitter between attempts to reach a worker that went away (restarting after a crash
 * or a deploy): the first retry is quick, a long outage costs one attempt every `maxMs`, and many upstreams that
 * failed together do not retry in step.
 */
export class ReconnectBackoff {
  private attempts = 0;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
  ) {}

  /** The wait before the next attempt, in ms. */
  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempts, 30));
    this.attempts += 1;
    return Math.round(base / 2 + Math.random() * (base / 2));
  }

  /** The peer answered: the next failure starts from the first wait again. */
  reset(): void {
    this.attempts = 0;
  }
}
