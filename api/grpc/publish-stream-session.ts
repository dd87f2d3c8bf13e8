import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { LogWriter } from '../../core/index.js';
import type { PublishRequest, PublishResponse } from '../../proto/gen/broker.js';
import type { BrokerMetrics } from '../metrics/broker-metrics.js';
import { SHUTDOWN_ADVICE, shuttingDownError, type CallGate, type ShutdownListener } from './call-gate.js';
import { toWireError, type ErrorLogger } from './status.js';
import type { RequestGuard } from './validate.js';
import { DrainWaiter } from './drain-waiter.js';
import type { PublishBudget } from './publish-budget.js';

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

/**
 * One PublishStream: streaming (append each request as it arrives; acks go out in request order through a promise
 * chain) → draining (no more reading: the client ended, a request was rejected or the broker is shutting down;
 * the acks owed still go out) → closed. close() is the one way out: it removes the listeners, releases a write
 * waiting for 'drain', records the metric and writes the final status exactly once.
 */
export class PublishStreamSession implements ShutdownListener {
  private state: 'streaming' | 'draining' | 'closed' = 'streaming';
  /** Acks in request order: each link waits for its append, then writes its ack. */
  private chain: Promise<void> = Promise.resolve();
  private pending = 0;
  private paused = false;
  /** Reading stopped because the publish budget is over its limit (separate from the in-flight count's pause). */
  private budgetPaused = false;
  private readonly maxInFlight: number;
  private readonly endCall: (success: boolean, err?: unknown) => void;
  private readonly onData = (req: PublishRequest): void => this.receive(req);
  private readonly onEnd = (): void => this.drainThen({ kind: 'end' });
  private readonly onGone = (): void => this.close({ kind: 'gone' });

  private readonly drain: DrainWaiter;

  constructor(
    private readonly call: PublishStreamCall,
    private readonly deps: PublishStreamSessionDeps,
  ) {
    this.maxInFlight = deps.maxInFlight ?? DEFAULT_STREAM_IN_FLIGHT;
    this.drain = new DrainWaiter(call);
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
    this.pending += 1;
    if (this.pending >= this.maxInFlight && !this.paused) {
      this.paused = true;
      this.call.pause();
    }
    const bytes = req.body.length;
    // The request has arrived, so it is taken; past the budget the stream reads nothing more until there is room.
    if (this.deps.budget.force(bytes) && !this.budgetPaused) {
      this.budgetPaused = true;
      this.call.pause();
      this.deps.budget.whenRoom(() => {
        this.budgetPaused = false;
        if (!this.paused && this.state === 'streaming') this.call.resume();
      });
    }
    appended.catch(() => undefined);
    appended.finally(() => this.deps.budget.release(bytes)).catch(() => undefined);
    this.chain = this.chain.then(() => this.acknowledge(appended));
  }

  private async acknowledge(appended: Promise<number>): Promise<void> {
    try {
      const id = await appended;
      // A client that does not read its acks stops this chain, so pending reaches the bound and reading pauses.
      if (this.state !== 'closed' && !this.call.write({ id })) await this.drain.wait();
    } catch (err) {
      // Every earlier ack is out (the chain is sequential), so the failure can end the stream now.
      this.close({ kind: 'error', err });
    } finally {
      this.pending -= 1;
      this.deps.gate.leave();
      if (this.paused && this.pending < this.maxInFlight / 2 && this.state === 'streaming') {
        this.paused = false;
        if (!this.budgetPaused) this.call.resume();
      }
    }
  }

  /** Stops reading and ends the stream once every ack owed so far is out. */
  private drainThen(ending: Ending): void {
    if (this.state !== 'streaming') return;
    this.state = 'draining';
    this.deps.gate.untrack(this);
    if (ending.kind !== 'end') this.call.pause();
    this.chain = this.chain.then(() => this.close(ending));
  }

  /** The one close path. */
  private close(ending: Ending): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.call.off('data', this.onData);
    this.call.off('end', this.onEnd);
    this.call.off('cancelled', this.onGone);
    this.deps.gate.untrack(this);
    this.drain.releaseNow();
    this.endCall(ending.kind === 'end', ending.kind === 'error' ? ending.err : undefined);
    if (this.call.cancelled || ending.kind === 'gone') return;
    if (ending.kind === 'end') this.call.end();
    else this.call.emit('error', toWireError(ending.err, this.deps.logger));
  }
}
