import { OverloadedError } from '../../core/index.js';

/**
 * BROKER_MAX_INFLIGHT_PUBLISH_BYTES: publish bodies received and not yet acknowledged, over every call. Each one is
 * held (and copied into a LevelDB batch) until its group commit is written; 400 concurrent 1 MiB Publish calls took a
 * broker to 1.78 GiB. Unary calls past the budget are refused (OVERLOADED, retriable); a PublishStream takes its
 * request anyway (it has arrived) and stops reading until the budget has room again.
 */
export class PublishBudget {
  private used = 0;
  private waiters: Array<() => void> = [];

  constructor(readonly limit: number) {}

  get inFlightBytes(): number {
    return this.used;
  }

  /** Takes `bytes` if they fit (the first call always fits, so one message larger than the budget still goes). */
  tryTake(bytes: number): boolean {
    if (this.used > 0 && this.used + bytes > this.limit) return false;
    this.used += bytes;
    return true;
  }

  /** Takes `bytes`, or refuses the publish (OVERLOADED, retriable) when they do not fit: a unary call's budget. */
  take(bytes: number): void {
    if (!this.tryTake(bytes)) {
      throw new OverloadedError(
        `${this.used} bytes of publishes are in flight, the limit (BROKER_MAX_INFLIGHT_PUBLISH_BYTES = ${this.limit}); retry later`,
      );
    }
  }

  /** Takes `bytes` whether or not they fit; true while the budget is over its limit (the caller stops reading). */
  force(bytes: number): boolean {
    this.used += bytes;
    return this.used > this.limit;
  }

  release(bytes: number): void {
    this.used -= bytes;
    if (this.used > this.limit) return;
    const waiting = this.waiters;
    this.waiters = [];
    for (const wake of waiting) wake();
  }

  /** Calls `wake` once the budget is within its limit again. */
  whenRoom(wake: () => void): void {
    if (this.used <= this.limit) wake();
    else this.waiters.push(wake);
  }
}
