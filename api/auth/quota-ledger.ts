import type { QuotaGrant, QuotaLeaseRequest } from '../workers/cluster-messages.js';
import { TokenBucket } from './token-bucket.js';

/** Buckets unused this long are dropped: one idle for a second is full, as a new one would be. */
const IDLE_MS = 10_000;

interface Held {
  readonly messagesPerSecond: number | undefined;
  readonly bytesPerSecond: number | undefined;
  readonly messages: TokenBucket | undefined;
  readonly bytes: TokenBucket | undefined;
  usedAt: number;
}

/**
 * The primary's side of quotas with several workers: it owns every identity's buckets (the same token buckets as a
 * broker of one process) and hands their tokens to the workers in chunks, so the rate holds for the whole broker
 * whichever worker a client's connections land on. A lease is granted whole or refused with how long until its
 * `need` fits (the RetryInfo delay a worker answers with); a worker's leftovers expire on its side, never come back
 * (at most a tenth of a second's worth per worker goes unused).
 */
export class QuotaLedger {
  private readonly held = new Map<string, Held>();
  private sweptAt: number;

  constructor(private readonly now: () => number = () => performance.now()) {
    this.sweptAt = now();
  }

  lease(request: QuotaLeaseRequest): QuotaGrant {
    const held = this.bucketsOf(request);
    const { need, want } = request;
    const wait = Math.max(waitFor(held.messages, need.messages), waitFor(held.bytes, need.bytes));
    if (wait > 0) return { type: 'broker:quota-grant', id: request.id, messages: 0, bytes: 0, retryMs: wait };
    return {
      type: 'broker:quota-grant',
      id: request.id,
      messages: grant(held.messages, need.messages, want.messages),
      bytes: grant(held.bytes, need.bytes, want.bytes),
      retryMs: 0,
    };
  }

  /** The buckets of the request's key, new ones when its rate is not the one held (the auth file was reloaded). */
  private bucketsOf(request: QuotaLeaseRequest): Held {
    const now = this.now();
    if (now - this.sweptAt > IDLE_MS) this.sweep(now);
    const { messagesPerSecond, bytesPerSecond } = request.rate;
    let held = this.held.get(request.key);
    if (held === undefined || held.messagesPerSecond !== messagesPerSecond || held.bytesPerSecond !== bytesPerSecond) {
      held = {
        messagesPerSecond,
        bytesPerSecond,
        messages: messagesPerSecond === undefined ? undefined : new TokenBucket(messagesPerSecond, this.now),
        bytes: bytesPerSecond === undefined ? undefined : new TokenBucket(bytesPerSecond, this.now),
        usedAt: now,
      };
      this.held.set(request.key, held);
    }
    held.usedAt = now;
    return held;
  }

  private sweep(now: number): void {
    this.sweptAt = now;
    for (const [key, held] of this.held) if (now - held.usedAt > IDLE_MS) this.held.delete(key);
  }
}

function waitFor(bucket: TokenBucket | undefined, need: number): number {
  return bucket === undefined || need <= 0 ? 0 : bucket.waitFor(need);
}

/** At least `need` (a take above the burst leaves the bucket in debt, as in one process), up to `want` if there. */
function grant(bucket: TokenBucket | undefined, need: number, want: number): number {
  if (bucket === undefined) return 0;
  const amount = Math.max(need, Math.min(want, bucket.available()));
  bucket.take(amount);
  return amount;
}
