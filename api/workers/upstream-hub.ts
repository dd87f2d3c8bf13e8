import { InvalidIdError, UnavailableError, type TailCursor } from '../../core/index.js';
import { OwnerCalls, type OwnerClientFor } from './owner-calls.js';
import { RemoteTailCursor } from './remote-tail-cursor.js';
import { SharedUpstream } from './shared-upstream.js';
import { UpstreamCacheBudget } from './upstream-cache-budget.js';
import { UpstreamMetrics } from './upstream-metrics.js';
import { resolveUpstreamOptions, type ResolvedUpstreamOptions, type UpstreamHubOptions } from './upstream-options.js';

/**
 * The Subscribe side of subjects another worker owns: `tail` has LogReader.tail's semantics, and every cursor of one
 * subject shares ONE upstream Subscribe stream to its owner, opened with the first cursor and closed `lingerMs`
 * after the last. A worker thus receives only the subjects its own subscribers asked for, and fans them out itself.
 */
export class UpstreamHub {
  private readonly upstreams = new Map<string, SharedUpstream>();
  private readonly options: ResolvedUpstreamOptions;
  private readonly calls: OwnerCalls;
  private readonly metrics: UpstreamMetrics;
  private readonly budget: UpstreamCacheBudget;
  private closed = false;

  constructor(
    /** A client connected to the internal endpoint of the worker that owns the subject (it serves broker.Broker). */
    private readonly clientFor: OwnerClientFor,
    options: UpstreamHubOptions = {},
  ) {
    this.options = resolveUpstreamOptions(options);
    this.metrics = new UpstreamMetrics(options.registry);
    this.budget = new UpstreamCacheBudget(this.options.totalCacheBytes);
    this.calls = new OwnerCalls(clientFor, this.options.callTimeoutMs, {
      initialMs: this.options.reconnectInitialMs,
      maxMs: this.options.reconnectMaxMs,
    });
  }

  /**
   * A cursor from `from` ('live': the owner's next id now, so a message acknowledged before this call is never
   * delivered). A numeric start below the owner's first retained id gets what the owner's cold tier holds below it,
   * then goes on from that first id. Throws InvalidIdError when
   * from > the owner's last id + 1, and the owner's own error (UNAVAILABLE after callTimeoutMs) when it cannot ask.
   */
  async tail(subject: string, from: number | 'live'): Promise<TailCursor> {
    this.refuseIfClosed();
    if (from !== 'live' && !Number.isSafeInteger(from)) {
      throw new InvalidIdError(subject, from, `from_id ${from} is not an integer`);
    }
    const { lastId } = await this.calls.bounds(subject);
    this.refuseIfClosed();
    if (from !== 'live' && from > lastId + 1) {
      throw new InvalidIdError(subject, from, `from_id is beyond the next id ${lastId + 1}`);
    }
    // Not raised to the owner's first id: its FetchRange serves ids below it that its cold tier holds (removed
    // locally, or lost with a disk and replicated) and moves the cursor on to its first id past the rest.
    const position = from === 'live' ? lastId + 1 : Math.max(from, 1);
    const upstream = this.upstreamOf(subject, lastId + 1);
    upstream.noteOwnerLast(lastId);
    return new RemoteTailCursor(upstream, position, this.calls);
  }

  /** Subjects with an open upstream stream (lingering ones included). */
  get upstreamCount(): number {
    return this.upstreams.size;
  }

  /** Bytes of records the upstreams' caches hold together. */
  get cachedBytes(): number {
    return this.budget.usedBytes;
  }

  /** Closes every upstream: their cursors end with an empty batch, and tail() refuses from now on. */
  close(): void {
    this.closed = true;
    for (const upstream of [...this.upstreams.values()]) upstream.close();
  }

  private upstreamOf(subject: string, start: number): SharedUpstream {
    const open = this.upstreams.get(subject);
    if (open !== undefined && open.isOpen) return open;
    const upstream = new SharedUpstream({
      subject,
      start,
      clientFor: this.clientFor,
      options: this.options,
      budget: this.budget,
      onReconnect: () => this.metrics.reconnects.inc(),
      onEnded: (ended) => this.forget(ended),
    });
    this.upstreams.set(subject, upstream);
    this.metrics.subscriptions.inc();
    return upstream;
  }

  private forget(upstream: SharedUpstream): void {
    if (this.upstreams.get(upstream.subject) !== upstream) return;
    this.upstreams.delete(upstream.subject);
    this.metrics.subscriptions.dec();
  }

  private refuseIfClosed(): void {
    if (this.closed) throw new UnavailableError('the broker is shutting down; subscribe again later');
  }
}
