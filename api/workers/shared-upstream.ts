import type { LogRecord } from '../../core/index.js';
import type { OwnerClientFor } from './owner-calls.js';
import { ReconnectBackoff } from './reconnect-backoff.js';
import { RecordRing } from './record-ring.js';
import type { UpstreamCacheBudget } from './upstream-cache-budget.js';
import type { ResolvedUpstreamOptions } from './upstream-options.js';
import { UpstreamSubscription } from './upstream-subscription.js';

/** What a cursor at a position finds in the shared cache. */
export type CacheRead =
  /** Records at or after the position, at least one. */
  | { readonly kind: 'records'; readonly records: LogRecord[] }
  /** Nothing at or after the position has been received yet: wait for the stream. */
  | { readonly kind: 'wait' }
  /** The position is older than the cache: read it from the owner (FetchRange). */
  | { readonly kind: 'behind' };

export interface SharedUpstreamDeps {
  readonly subject: string;
  /** The owner's next id when this upstream opens (its last id + 1): the stream starts there. */
  readonly start: number;
  readonly clientFor: OwnerClientFor;
  readonly options: ResolvedUpstreamOptions;
  /** The bytes every upstream's cache of this hub shares. */
  readonly budget: UpstreamCacheBudget;
  readonly onReconnect: () => void;
  /** The upstream closed (lingered out, failed, or the hub closed): the hub forgets it. */
  readonly onEnded: (upstream: SharedUpstream) => void;
}

/**
 * One subject another worker owns, as this worker's cursors see it: ONE Subscribe stream to the owner, from a known
 * boundary (the owner's next id when it opened), and a ring of the newest records received, which every local cursor
 * near the head reads (the same objects, so their encoding is shared). It closes `lingerMs` after its last cursor.
 */
export class SharedUpstream {
  readonly subject: string;
  /** The id after the last record received (the stream's resume point). */
  private nextId: number;
  /** The newest id the owner is known to have assigned (from its answers), at least nextId - 1. */
  private ownerLastId: number;
  private readonly ring: RecordRing;
  private readonly subscription: UpstreamSubscription;
  private readonly listeners = new Set<() => void>();
  private wakeScheduled = false;
  private cursors = 0;
  private lingerTimer: NodeJS.Timeout | undefined;
  private state: 'open' | 'closed' = 'open';
  /** Why the upstream ended, when the owner refused it: its cursors' next() rejects with it. */
  failure: Error | undefined;

  constructor(private readonly deps: SharedUpstreamDeps) {
    this.subject = deps.subject;
    this.nextId = deps.start;
    this.ownerLastId = deps.start - 1;
    this.ring = new RecordRing(deps.options.cacheRecords, deps.options.cacheBytes, deps.start);
    this.subscription = new UpstreamSubscription({
      subject: deps.subject,
      clientFor: deps.clientFor,
      resumeFrom: () => this.nextId,
      onRecord: (record) => this.received(record),
      onFatal: (err) => this.fail(err),
      onReconnect: deps.onReconnect,
      backoff: new ReconnectBackoff(deps.options.reconnectInitialMs, deps.options.reconnectMaxMs),
      logger: deps.options.logger,
    });
    this.subscription.start();
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** The newest id known to exist on the owner: what a cursor's lag is measured to. */
  get newestId(): number {
    return Math.max(this.ownerLastId, this.nextId - 1);
  }

  /** A cursor learnt the owner's last id from an answer of its own (GetSubject, FetchRange). */
  noteOwnerLast(lastId: number): void {
    if (lastId > this.ownerLastId) this.ownerLastId = lastId;
  }

  read(position: number, maxRecords: number): CacheRead {
    if (position < this.ring.coveredFrom) return { kind: 'behind' };
    const records = position < this.nextId ? this.ring.readFrom(position, maxRecords) : [];
    // The ring keeps the newest record received, so below nextId it always has one; nothing yet means wait.
    return records.length > 0 ? { kind: 'records', records } : { kind: 'wait' };
  }

  /** Calls the listener once, when records arrive or the upstream ends; returns its removal. */
  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  attach(): void {
    this.cursors += 1;
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
  }

  detach(): void {
    this.cursors -= 1;
    if (this.cursors > 0 || this.state !== 'open') return;
    this.lingerTimer = setTimeout(() => {
      if (this.cursors === 0) this.close();
    }, this.deps.options.lingerMs);
    this.lingerTimer.unref();
  }

  /** Closes the stream; its cursors end (an empty batch, or the failure if there was one). */
  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.lingerTimer);
    this.subscription.close();
    this.deps.budget.release(this.ring);
    this.wake();
    this.deps.onEnded(this);
  }

  private fail(err: Error): void {
    this.deps.options.logger.warn({ subject: this.subject, err: err.message }, 'upstream subscription refused');
    this.failure = err;
    this.close();
  }

  private received(record: LogRecord): void {
    // The owner delivers ids in order from the resume point; an id below it would be a duplicate.
    if (record.offset < this.nextId) return;
    this.deps.budget.add(this.ring, record);
    this.nextId = record.offset + 1;
    this.noteOwnerLast(record.offset);
    // Messages that arrive together (one HTTP/2 read) wake the cursors once.
    if (this.wakeScheduled) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      this.wake();
    });
  }

  private wake(): void {
    const listeners = [...this.listeners];
    this.listeners.clear();
    for (const listener of listeners) listener();
  }
}
