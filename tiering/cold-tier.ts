import type { Logger } from 'pino';
import {
  BrokerError,
  UnavailableError,
  type ColdStore,
  type CommitSegment,
  type LogRecord,
  type ReadLimits,
  type SegmentInfo,
} from '../core/index.js';

export interface ColdTierOptions {
  /** Opens the real store (the Cassandra one); called again after each failure until it succeeds. */
  readonly open: () => Promise<ColdStore>;
  readonly logger: Logger;
  /** The first delay before retrying, in ms; it doubles up to maxRetryMs. @defaultValue 500 */
  readonly minRetryMs?: number;
  /** The longest delay between retries, in ms. @defaultValue 10000 */
  readonly maxRetryMs?: number;
}

const DEFAULT_MIN_RETRY_MS = 500;
const DEFAULT_MAX_RETRY_MS = 10_000;
/** A subject no broker subject can be (a control character): its lookup is the cheapest query that proves the store answers. */
const PROBE_SUBJECT = '\u0000';

/**
 * The cold tier as the broker sees it: a ColdStore that is there from the start even when the real store (Scylla)
 * is not. It opens the store in the background and retries with capped exponential backoff; until then, and while
 * the opened store fails with UnavailableError (until a probe or a call succeeds again), it is down and every call
 * fails with UnavailableError, which is retriable: a replication job is retried and re-driven by the sweep, a tiered
 * read of an offset only the cold tier has answers UNAVAILABLE. The local log is served throughout.
 * A store that cannot open for a reason a retry would not fix (a bad setting: ConfigError) rejects `opened`.
 */
export class ColdTier implements ColdStore {
  /** Settles after the first attempt to open: resolves whether the store is up or down, rejects if it never can be. */
  readonly firstAttempt: Promise<void>;
  private store: ColdStore | undefined;
  private isUp = false;
  /** What was last logged: 'unknown' until the first attempt settles. */
  private state: 'unknown' | 'up' | 'down' = 'unknown';
  private lastError: unknown;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs: number;
  private recovering: Promise<void> | undefined;
  private readonly listeners = new Set<(up: boolean) => void>();

  constructor(private readonly options: ColdTierOptions) {
    this.retryMs = options.minRetryMs ?? DEFAULT_MIN_RETRY_MS;
    this.firstAttempt = this.attempt();
  }

  /** The cold tier answers now. */
  get up(): boolean {
    return this.isUp;
  }

  /** Calls `listener` now with the current state and on every change; returns how to stop. */
  onChange(listener: (up: boolean) => void): () => void {
    this.listeners.add(listener);
    listener(this.isUp);
    return () => this.listeners.delete(listener);
  }

  writeSegment(
    segment: SegmentInfo,
    records: AsyncIterable<LogRecord[]>,
    retentionMs: number,
  ): Promise<{ rows: number; bytes: number }> {
    return this.call((store) => store.writeSegment(segment, records, retentionMs));
  }

  writeCommit(segments: readonly CommitSegment[], retentionMs: number): Promise<void> {
    return this.call((store) => store.writeCommit(segments, retentionMs));
  }

  get(subject: string, offset: number): Promise<LogRecord | undefined> {
    return this.call((store) => store.get(subject, offset));
  }

  readRange(subject: string, fromOffset: number, beforeOffset: number, limits: ReadLimits): Promise<LogRecord[]> {
    return this.call((store) => store.readRange(subject, fromOffset, beforeOffset, limits));
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    await this.recovering?.catch(() => undefined);
    await this.store?.close();
  }

  private async call<T>(op: (store: ColdStore) => Promise<T>): Promise<T> {
    const store = this.store;
    if (store === undefined || !this.isUp) {
      const cause = this.lastError instanceof Error ? `: ${this.lastError.message}` : '';
      throw new UnavailableError(`the cold tier is unreachable (retrying in the background)${cause}`, {
        cause: this.lastError,
      });
    }
    try {
      return await op(store);
    } catch (err) {
      if (err instanceof UnavailableError) this.markDown(err);
      throw err;
    }
  }

  /** One attempt to open (or, once open, to probe) the store; schedules the next one while it fails. */
  private async attempt(): Promise<void> {
    try {
      if (this.store === undefined) {
        const store = await this.options.open();
        if (this.closed) return void (await store.close());
        this.store = store;
      } else {
        await this.store.get(PROBE_SUBJECT, 1);
      }
      this.retryMs = this.options.minRetryMs ?? DEFAULT_MIN_RETRY_MS;
      this.setUp(true);
    } catch (err) {
      // A setting no retry can fix fails startup, as it did before the cold tier was optional at start.
      if (err instanceof BrokerError && !err.retriable) throw err;
      this.markDown(err);
    }
  }

  private markDown(err: unknown): void {
    this.lastError = err;
    this.setUp(false);
    if (this.closed || this.retryTimer !== undefined) return;
    this.options.logger.debug({ err, retryInMs: this.retryMs }, 'cold tier unreachable; retrying');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.recovering = this.attempt().catch((e: unknown) => this.markDown(e));
    }, this.retryMs);
    this.retryTimer.unref();
    this.retryMs = Math.min(this.retryMs * 2, this.options.maxRetryMs ?? DEFAULT_MAX_RETRY_MS);
  }

  /** Logs and tells the listeners of each change (the first state counts as one: a tier down at start is logged). */
  private setUp(up: boolean): void {
    const state = up ? 'up' : 'down';
    if (state === this.state) return;
    const changed = up !== this.isUp;
    this.state = state;
    this.isUp = up;
    if (up) this.options.logger.info('cold tier up: replication and tiered reads resume');
    else
      this.options.logger.error(
        { err: this.lastError },
        'cold tier unreachable: serving the local log only; replication waits and reads of offsets only the cold tier has answer UNAVAILABLE',
      );
    if (changed) for (const listener of this.listeners) listener(up);
  }
}
