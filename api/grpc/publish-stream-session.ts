import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { LogWriter } from '../../core/index.js';
import type { PublishRequest, PublishResponse } from '../../proto/gen/broker.js';
import type { BrokerMetrics } from '../metrics/broker-metrics.js';
import { SHUTDOWN_ADVICE, shuttingDownError, type CallGate, type ShutdownListener } from './call-gate.js';
import { toWireError, type ErrorLogger } from './status.js';
import type { RequestGuard } from './validate.js';
import { DrainWaiter } from './drain-waiter.js';
import type { PublishBudget } from './publish-budget.js';
import { writeInBatches } from './stream-writev.js';

export type PublishStreamCall = ServerDuplexStream<PublishRequest, PublishResponse>;

/** Requests of one stream appended but not yet acknowledged before the stream stops reading. */
export const DEFAULT_STREAM_IN_FLIGHT = 1024;

export interface PublishStreamSessionDeps {
  readonly writer: LogWriter;
  readonly guard: RequestGuard;
  readonly gate: CallGate;
  readonly metrics: BrokerMetrics;
  /** @defaultValue DEFAULT_STREAM_IN_FLIGHT */
  readonly maxInFlight?: number;
  /** Hears the detail of a failure the client gets only a generic INTERNAL for. */
  readonly logger: ErrorLogger;
  /** BROKER_MAX_INFLIGHT_PUBLISH_BYTES over every call: past it the stream stops reading until there is room. */
  readonly budget: PublishBudget;
}

/** `end`: the client finished and every ack is out; `gone`: the client cancelled; `error`: the stream fails. */
type Ending = { kind: 'end' } | { kind: 'gone' } | { kind: 'error'; err: unknown };

/** One request appended and not yet acknowledged: `id` once its append succeeded, `err` once it failed. */
interface Owed {
  readonly bytes: number;
  settled: boolean;
  id: number;
  err: unknown;
}

/**
 * One PublishStream: streaming (append each request as it arrives; acks go out in request order) → draining (no
 * more reading: the client ended, a request was rejected or the broker is shutting down; the acks owed still go
 * out) → closed. close() is the one way out: it removes the listeners, releases a write waiting for 'drain', records
 * the metric and writes the final status exactly once.
 *
 * Acks wait in a queue in request order. An append's settling marks its entry and flushes the queue's settled head,
 * so a group commit's acks are written in one pass: one callback per request, where a promise chain (a link, an
 * async function and two finally handlers per request) cost a tenth of the CPU per message.
 */
export class PublishStreamSession implements ShutdownListener {
  private state: 'streaming' | 'draining' | 'closed' = 'streaming';
  private readonly owed: Owed[] = [];
  /** Index of the first entry of `owed` not yet acknowledged (the queue is compacted now and then). */
  private head = 0;
  /** Why the stream ends once every ack owed is out (set when draining starts). */
  private ending: Ending | undefined;
  /** As many acks as requests may be in flight are written and unsent: nothing more until the client reads. */
  private waitingForDrain = false;
  /** Acks written that grpc-js has not sent yet (their write callbacks have not fired). */
  private unsentAcks = 0;
  private readonly ackSent = (): void => {
    this.unsentAcks -= 1;
  };
  private paused = false;
  /** Reading stopped because the publish budget is over its limit (separate from the in-flight count's pause). */
  private budgetPaused = false;
  private readonly maxInFlight: number;
  private readonly endCall: (success: boolean) => void;
  private readonly onData = (req: PublishRequest): void => this.receive(req);
  private readonly onEnd = (): void => this.drainThen({ kind: 'end' });
  private readonly onGone = (): void => this.close({ kind: 'gone' });
  private readonly flushNow = (): void => this.flush();
  private readonly afterDrain = (): void => {
    this.waitingForDrain = false;
    this.flush();
  };

  private readonly drain: DrainWaiter;

  constructor(
    private readonly call: PublishStreamCall,
    private readonly deps: PublishStreamSessionDeps,
  ) {
    this.maxInFlight = deps.maxInFlight ?? DEFAULT_STREAM_IN_FLIGHT;
    this.drain = new DrainWaiter(call);
    writeInBatches(call);
    this.endCall = deps.metrics.startCall('PublishStream');
  }

  start(): void {
    try {
      this.deps.gate.admit();
    } catch (err) {
      this.close({ kind: 'error', err });
      return;
    }
    this.deps.gate.track(this);
    this.call.on('data', this.onData);
    this.call.on('end', this.onEnd);
    this.call.on('cancelled', this.onGone);
  }

  /** Every request already appended is acknowledged, then the stream ends with UNAVAILABLE. */
  shutdown(): void {
    this.drainThen({ kind: 'error', err: shuttingDownError(SHUTDOWN_ADVICE.publishStream) });
  }

  private get pending(): number {
    return this.owed.length - this.head;
  }

  private receive(req: PublishRequest): void {
    if (this.state !== 'streaming') return;
    let appended: Promise<number>;
    try {
      // Validated and admitted before it reaches the log: a rejected request appends nothing.
      const input = this.deps.guard.publish(req);
      this.deps.gate.enter();
      appended = this.deps.writer.append(input);
    } catch (err) {
      this.drainThen({ kind: 'error', err });
      return;
    }
    const entry: Owed = { bytes: req.body.length, settled: false, id: 0, err: undefined };
    this.owed.push(entry);
    if (this.pending >= this.maxInFlight && !this.paused) {
      this.paused = true;
      this.call.pause();
    }
    // The request has arrived, so it is taken; past the budget the stream reads nothing more until there is room.
    if (this.deps.budget.force(entry.bytes) && !this.budgetPaused) {
      this.budgetPaused = true;
      this.call.pause();
      this.deps.budget.whenRoom(() => {
        this.budgetPaused = false;
        if (!this.paused && this.state === 'streaming') this.call.resume();
      });
    }
    appended.then(
      (id) => this.settle(entry, id, undefined),
      (err: unknown) => this.settle(entry, 0, err ?? new Error('append failed')),
    );
  }

  private settle(entry: Owed, id: number, err: unknown): void {
    entry.settled = true;
    entry.id = id;
    entry.err = err;
    this.deps.budget.release(entry.bytes);
    this.flush();
  }

  /**
   * Acknowledges the settled head of the queue in request order. A failed append ends the stream (every earlier ack
   * is out); entries behind it still leave the gate as they settle. A client that does not read its acks stops the
   * flush, so pending reaches the bound and reading pauses.
   */
  private flush(): void {
    while (this.head < this.owed.length && !this.waitingForDrain) {
      const entry = this.owed[this.head];
      if (entry === undefined || !entry.settled) break;
      this.head += 1;
      if (this.state === 'closed') {
        // Nothing to write any more; the gate still hears that the work is done.
      } else if (entry.err !== undefined) {
        this.close({ kind: 'error', err: entry.err });
      } else {
        // grpc-js says "wait" (write() false) past 16 queued acks, and each 'drain' takes a few loop turns: under a
        // delivery overload (turns of tens of ms) that capped a stream at a few hundred acks/s whatever the log
        // did. The acks' own bound is the in-flight one: a client that reads none stops here after maxInFlight, and
        // reading pauses once as many are owed (at most 2 x maxInFlight small acks held).
        this.unsentAcks += 1;
        const room = this.call.write({ id: entry.id }, this.ackSent);
        if (!room && this.unsentAcks >= this.maxInFlight) {
          this.waitingForDrain = true;
          void this.drain.wait().then(this.afterDrain);
        }
      }
      this.deps.gate.leave();
    }
    this.compact();
    if (this.paused && this.pending < this.maxInFlight / 2 && this.state === 'streaming') {
      this.paused = false;
      if (!this.budgetPaused) this.call.resume();
    }
    if (this.pending === 0 && this.ending !== undefined) this.close(this.ending);
  }

  /** Drops acknowledged entries once they are most of the queue (cheap amortized, no shift() per ack). */
  private compact(): void {
    if (this.head === this.owed.length) {
      this.owed.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.owed.length) {
      this.owed.splice(0, this.head);
      this.head = 0;
    }
  }

  /** Stops reading and ends the stream once every ack owed so far is out. */
  private drainThen(ending: Ending): void {
    if (this.state !== 'streaming') return;
    this.state = 'draining';
    this.ending = ending;
    this.deps.gate.untrack(this);
    if (ending.kind !== 'end') this.call.pause();
    queueMicrotask(this.flushNow);
  }

  /** The one close path. */
  private close(ending: Ending): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.call.off('data', this.onData);
    this.call.off('end', this.onEnd);
    this.call.off('cancelled', this.onGone);
    this.deps.gate.untrack(this);
    this.waitingForDrain = false;
    this.drain.releaseNow();
    this.endCall(ending.kind === 'end');
    if (this.call.cancelled || ending.kind === 'gone') return;
    if (ending.kind === 'end') this.call.end();
    else this.call.emit('error', toWireError(ending.err, this.deps.logger));
  }
}
