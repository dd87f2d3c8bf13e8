/**
 * A token bucket: `ratePerSecond` tokens a second, holding at most one second's worth (the burst). A take larger than
 * the burst is admitted once the bucket is full and leaves it in debt, so a message bigger than a bytes/s quota is
 * slowed to the rate instead of refused for ever. Hand-written (thirty lines) because the limiter libraries on npm
 * count fixed windows (twice the rate across a window edge) or refuse a take above their capacity outright.
 */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    readonly ratePerSecond: number,
    private readonly now: () => number = performanceNow,
  ) {
    this.tokens = ratePerSecond;
    this.at = now();
  }

  /** How long until `amount` fits, in ms (0: it fits now). Takes nothing. */
  waitFor(amount: number): number {
    this.refill();
    const needed = Math.min(amount, this.ratePerSecond);
    return this.tokens >= needed ? 0 : Math.ceil(((needed - this.tokens) * 1000) / this.ratePerSecond);
  }

  take(amount: number): void {
    this.refill();
    this.tokens -= amount;
  }

  /** The tokens there now (negative: in debt). */
  available(): number {
    this.refill();
    return this.tokens;
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.ratePerSecond, this.tokens + ((now - this.at) * this.ratePerSecond) / 1000);
    this.at = now;
  }
}

function performanceNow(): number {
  return performance.now();
}

/**
 * An identity's rate in one direction (publish or delivery), as a call sees it: answered from this process alone
 * (RateLimit), or from tokens the primary of several workers leases out (LeasedLimit), so the rate holds for the
 * whole broker.
 */
export interface QuotaLimit {
  /** Takes `count` messages of `bytes` bytes and returns 0, or returns how long until they fit (taking nothing), ms. */
  tryTake(count: number, bytes: number): number;
  /** Takes `count` messages of `bytes` whether they fit or not (the quota goes into debt). */
  takeAnyway(count: number, bytes: number): void;
  /** Calls `wake` (never synchronously) once one more message fits: any debt is paid off. */
  whenRoom(wake: () => void): void;
  /** Settles once tryTake can answer a message from what this process knows (undefined: it can already). */
  prepare(): Promise<void> | undefined;
}

/** A messages/s bucket and a bytes/s bucket taken together: a take fits when it fits both. */
export class RateLimit implements QuotaLimit {
  private readonly messages: TokenBucket | undefined;
  private readonly bytes: TokenBucket | undefined;

  constructor(
    spec: { messagesPerSecond?: number | undefined; bytesPerSecond?: number | undefined },
    now?: () => number,
  ) {
    this.messages = spec.messagesPerSecond === undefined ? undefined : new TokenBucket(spec.messagesPerSecond, now);
    this.bytes = spec.bytesPerSecond === undefined ? undefined : new TokenBucket(spec.bytesPerSecond, now);
  }

  /** Takes `count` messages of `bytes` bytes and returns 0, or returns how long until they fit (taking nothing), ms. */
  tryTake(count: number, bytes: number): number {
    const wait = Math.max(this.messages?.waitFor(count) ?? 0, this.bytes?.waitFor(bytes) ?? 0);
    if (wait > 0) return wait;
    this.messages?.take(count);
    this.bytes?.take(bytes);
    return 0;
  }

  /** Takes `count` messages of `bytes` whether they fit or not (the buckets go into debt). */
  takeAnyway(count: number, bytes: number): void {
    this.messages?.take(count);
    this.bytes?.take(bytes);
  }

  whenRoom(wake: () => void): void {
    const wait = Math.max(this.messages?.waitFor(1) ?? 0, this.bytes?.waitFor(1) ?? 0);
    setTimeout(wake, wait);
  }

  prepare(): undefined {
    return undefined;
  }
}
