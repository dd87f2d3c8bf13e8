/** A Subscribe stream as the budget sees it: the bytes it has written that grpc-js has not sent yet. */
export interface BudgetedSubscriber {
  readonly queuedBytes: number;
  /** Ends the stream with SLOW_CONSUMER; its queued bytes stay counted until they are sent or the stream closes. */
  evict(): void;
  /**
   * Drops what an ended stream still holds by resetting its HTTP/2 stream (its bytes are released when it closes);
   * false when it cannot.
   */
  abandon(): boolean;
}

/**
 * BROKER_SUBSCRIBER_BUFFER_BYTES: the bytes written to all Subscribe streams that grpc-js has not yet sent. Each
 * stream frames its own copy of a message (the shared encoding is copied into the frame), and a client that does not
 * read leaves that copy queued in HTTP/2: 1,000 such streams and one 1 MiB publish cost 1 GiB. Before a write that
 * would pass the budget the stream with most queued (the slowest) is evicted. An evicted stream's client gets its
 * status after what is queued for it, so one that still reads sees SLOW_CONSUMER; but a client that does not read
 * would hold those bytes until it disconnects, and every writer would wait for them. So when a writer needs room
 * that ended streams still hold, those streams are reset (abandon), which drops their queued frames.
 */
export class SubscriberBudget {
  private total = 0;
  /** Bytes of streams that left the budget, freed only when they are sent or their stream closes. */
  private releasing = 0;
  private readonly live = new Set<BudgetedSubscriber>();
  /** Streams that left the budget still holding bytes: the ones a writer waiting for room resets. */
  private readonly holding = new Set<BudgetedSubscriber>();
  private waiters: Array<() => void> = [];

  constructor(readonly limit: number) {}

  get queuedBytes(): number {
    return this.total;
  }

  join(subscriber: BudgetedSubscriber): void {
    this.live.add(subscriber);
  }

  /** The stream stopped writing (closed or evicted); what it still holds is freed by release(). */
  leave(subscriber: BudgetedSubscriber): void {
    if (!this.live.delete(subscriber)) return;
    this.releasing += subscriber.queuedBytes;
    if (subscriber.queuedBytes > 0) this.holding.add(subscriber);
  }

  /** Whether `bytes` fit as they are: admit() would answer 'write' without evicting or resetting anything. */
  fits(bytes: number): boolean {
    return this.total === 0 || this.total + bytes <= this.limit;
  }

  /**
   * Makes room for `bytes` written by `writer`: 'write' when it fits (always for the first bytes queued, so one
   * message larger than the budget still goes out), 'evicted' when the writer itself is the slowest and must end,
   * 'wait' when streams that left the budget still hold the room: they are being reset (call waitForRoom(), then
   * ask again).
   */
  admit(writer: BudgetedSubscriber, bytes: number): 'write' | 'evicted' | 'wait' {
    if (this.fits(bytes)) return 'write';
    if (this.total - this.releasing + bytes > this.limit) {
      const slowest = this.slowest(writer);
      if (slowest === writer) return 'evicted';
      slowest.evict();
    }
    if (this.total + bytes <= this.limit) return 'write';
    this.reclaim();
    return this.total + bytes <= this.limit ? 'write' : 'wait';
  }

  charge(bytes: number): void {
    this.total += bytes;
  }

  /** Bytes sent (or dropped with their stream); `from`: the stream they belonged to, when it has left the budget. */
  release(bytes: number, from?: BudgetedSubscriber): void {
    this.total -= bytes;
    if (from !== undefined) {
      this.releasing -= bytes;
      if (from.queuedBytes === 0) this.holding.delete(from);
    }
    const waiting = this.waiters;
    this.waiters = [];
    for (const wake of waiting) wake();
  }

  /** Resolves on the next release. */
  waitForRoom(): Promise<void> {
    return new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** Resets every stream that left the budget still holding bytes: their clients are not reading them. */
  private reclaim(): void {
    const holding = [...this.holding];
    this.holding.clear();
    for (const s of holding) s.abandon();
  }

  /** The live stream with most queued; the writer on a tie, so a stream is never ended for another's equal share. */
  private slowest(writer: BudgetedSubscriber): BudgetedSubscriber {
    let slowest = writer;
    for (const s of this.live) if (s.queuedBytes > slowest.queuedBytes) slowest = s;
    return slowest;
  }
}
