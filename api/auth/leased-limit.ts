import type { QuotaLeaseRequest, QuotaTokens } from '../workers/cluster-messages.js';
import type { RateSpec } from './auth-file-schema.js';
import type { QuotaLimit } from './token-bucket.js';

/** What a worker asks the primary, and what it answers (a lost answer is a refusal for a short while). */
export type LeaseAsk = Pick<QuotaLeaseRequest, 'key' | 'rate' | 'need' | 'want'>;
export interface LeaseAnswer extends QuotaTokens {
  readonly retryMs: number;
}

/** How a worker reaches the primary's ledger (over node:cluster's IPC channel: api/workers/quota-channel.ts). */
export interface LeaseChannel {
  /** Always resolves. */
  ask(request: LeaseAsk): Promise<LeaseAnswer>;
}

/** A lease is a tenth of a second's worth of the quota. */
const CHUNK_OF_SECOND = 0.1;
/** Tokens held this long after the last grant expire (debts do not): an idle worker keeps no share for long. */
export const LEASE_TTL_MS = 1_000;
/** The retry delay of a take the share at hand cannot answer while its lease is asked for (an IPC round trip). */
export const ASKING_RETRY_MS = 5;

/**
 * An identity's quota in one direction as a worker of several holds it: a local share of tokens leased from the
 * primary (quota-ledger.ts), taken from without any IPC. When the share runs low the next chunk is asked for ahead of
 * need; when it is out, a take is refused with the primary's retry delay (RetryInfo), or, for paced streams
 * (takeAnyway + whenRoom), waits for the lease that pays the debt. A unary publish finding the share empty waits
 * for one lease before it is checked (prepare), so a client under its quota is not refused for the round trip.
 */
export class LeasedLimit implements QuotaLimit {
  /** The local share (negative: a debt the next grants pay first). */
  private messages = 0;
  private bytes = 0;
  private expiresAt = 0;
  /** The primary said none until then: no lease is asked for before. */
  private refusedUntil = 0;
  private asking: Promise<void> | undefined;
  private readonly chunk: QuotaTokens;

  constructor(
    private readonly key: string,
    private readonly rate: RateSpec,
    private readonly channel: LeaseChannel,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.chunk = {
      messages: Math.max(1, (rate.messagesPerSecond ?? 0) * CHUNK_OF_SECOND),
      bytes: Math.max(1, (rate.bytesPerSecond ?? 0) * CHUNK_OF_SECOND),
    };
  }

  tryTake(count: number, bytes: number): number {
    this.expire();
    const need = this.needOf(count, bytes);
    if (this.fits(need)) {
      this.takeAnyway(count, bytes);
      const low = this.messages < this.chunk.messages / 2 || this.bytes < this.chunk.bytes / 2;
      if (low && this.refusedUntil <= this.now()) void this.ask(this.needOf(1, 1));
      return 0;
    }
    const refused = Math.ceil(this.refusedUntil - this.now());
    if (refused > 0) return refused;
    // Not known yet whether the primary has them (a message above the share at hand): ask, and retry after the ask.
    void this.ask(this.deficit(need));
    return ASKING_RETRY_MS;
  }

  takeAnyway(count: number, bytes: number): void {
    this.messages -= count;
    this.bytes -= bytes;
  }

  whenRoom(wake: () => void): void {
    const check = (): void => {
      this.expire();
      const need = this.needOf(1, 1);
      if (this.fits(need)) return wake();
      const refused = Math.ceil(this.refusedUntil - this.now());
      if (refused > 0) setTimeout(check, refused);
      else void this.ask(this.deficit(need)).then(check);
    };
    queueMicrotask(check);
  }

  prepare(): Promise<void> | undefined {
    this.expire();
    const need = this.needOf(1, 1);
    if (this.fits(need) || this.refusedUntil > this.now()) return undefined;
    return this.ask(this.deficit(need));
  }

  /** One lease at a time: a second asker waits for the first one's answer and looks again. */
  private ask(need: QuotaTokens): Promise<void> {
    this.asking ??= this.channel
      .ask({
        key: this.key,
        rate: this.rate,
        need,
        want: { messages: Math.max(need.messages, this.chunk.messages), bytes: Math.max(need.bytes, this.chunk.bytes) },
      })
      .then((answer) => {
        this.asking = undefined;
        if (answer.retryMs > 0) {
          this.refusedUntil = this.now() + answer.retryMs;
          return;
        }
        this.expire();
        this.messages += answer.messages;
        this.bytes += answer.bytes;
        this.expiresAt = this.now() + LEASE_TTL_MS;
      });
    return this.asking;
  }

  private expire(): void {
    if (this.now() <= this.expiresAt) return;
    this.messages = Math.min(0, this.messages);
    this.bytes = Math.min(0, this.bytes);
  }

  /** What a take of `count` messages of `bytes` needs at hand: a take above the burst goes once a burst is there. */
  private needOf(count: number, bytes: number): QuotaTokens {
    const { messagesPerSecond: m, bytesPerSecond: b } = this.rate;
    return { messages: m === undefined ? 0 : Math.min(count, m), bytes: b === undefined ? 0 : Math.min(bytes, b) };
  }

  private fits(need: QuotaTokens): boolean {
    return (
      (this.rate.messagesPerSecond === undefined || this.messages >= need.messages) &&
      (this.rate.bytesPerSecond === undefined || this.bytes >= need.bytes)
    );
  }

  /** What the primary must grant at least for `need` to fit (0 for a rate the quota has not). */
  private deficit(need: QuotaTokens): QuotaTokens {
    const { messagesPerSecond: m, bytesPerSecond: b } = this.rate;
    return {
      messages: m === undefined ? 0 : Math.max(0, need.messages - this.messages),
      bytes: b === undefined ? 0 : Math.max(0, need.bytes - this.bytes),
    };
  }
}
