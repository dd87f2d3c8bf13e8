import { Metadata, type ServerWritableStream } from '@grpc/grpc-js';
import {
  OverloadedError,
  SlowConsumerError,
  UnavailableError,
  isExpired,
  type LogReader,
  type LogRecord,
  type TailCursor,
} from '../../core/index.js';
import type { MessageResponse, SubscribeRequest } from '../../proto/gen/broker.js';
import type { BrokerMetrics } from '../metrics/broker-metrics.js';
import { SHUTDOWN_ADVICE, shuttingDownError, type CallGate, type ShutdownListener } from './call-gate.js';
import { frameMessage, type EncodedMessages } from './service-definition.js';
import { toWireError, type ErrorLogger } from './status.js';
import type { RequestGuard } from './validate.js';
import { DrainWaiter } from './drain-waiter.js';
import { resetCallStream } from './http2-stream-reset.js';
import type { BudgetedSubscriber, SubscriberBudget } from './subscriber-budget.js';
import { DeliveryScheduler, type Pumpable, type PumpStop } from './delivery-scheduler.js';
import { writeInBatches } from './stream-writev.js';
import { framedSink, type FramedSink } from './framed-writes.js';

export type SubscribeCall = ServerWritableStream<SubscribeRequest, MessageResponse | Buffer>;

export interface SubscribeSessionDeps {
  readonly reader: LogReader;
  readonly guard: RequestGuard;
  readonly gate: CallGate;
  readonly metrics: BrokerMetrics;
  /** The shared pre-encoded MessageResponses of records from the subject's tail cache. */
  readonly encoded: EncodedMessages;
  /** The registered subscriptions of this broker (what BROKER_MAX_SUBSCRIBERS bounds). */
  readonly subscribers: Set<SubscribeSession>;
  readonly maxSubscribers: number;
  /** The subject retention in ms (0 = for ever), applied at read time. */
  readonly retentionMs: number;
  readonly now: () => number;
  /** Hears the detail of a failure the client gets only a generic INTERNAL for. */
  readonly logger: ErrorLogger;
  /** BROKER_SUBSCRIBER_BUFFER_BYTES over every stream: the slowest is evicted past it. */
  readonly budget: SubscriberBudget;
  /** Shares the event loop between deliveries and ingest; the process's own by default. */
  readonly scheduler?: DeliveryScheduler;
}

/** The batch a session is delivering: the scheduler's pump() goes on from `next`. */
interface Pending {
  readonly batch: readonly LogRecord[];
  next: number;
  /** From the shared tail cache: its records' encodings are shared too. */
  readonly shared: boolean;
  /** The clock for the batch's retention check. */
  readonly now: number;
  delivered: number;
}

/**
 * How a subscription ends. `end`: the cursor ended (the log closed); `gone`: the client cancelled or the transport
 * closed, so there is nobody to tell; `shutdown`: the broker is stopping; `error`: anything thrown while serving it.
 */
type Ending =
  { kind: 'end' } | { kind: 'gone' } | { kind: 'shutdown' } | { kind: 'slow' } | { kind: 'error'; err: unknown };

/**
 * One Subscribe stream: opening (validate, open the cursor) → streaming (deliver batches, honouring write
 * backpressure) → closed. Every way out goes through close(), which releases the cursor, the listeners, the
 * registration and the metrics exactly once, and writes the final status if the client is still there.
 */
export class SubscribeSession implements ShutdownListener, BudgetedSubscriber, Pumpable {
  private state: 'opening' | 'streaming' | 'closed' = 'opening';
  private cursor: TailCursor | undefined;
  private subject = '';
  /** The id of the last message written to the stream: what a SLOW_CONSUMER status names. */
  private lastWrittenId = 0;
  /** Written to the stream and not yet sent by grpc-js (its write callback has not fired). */
  private queued = 0;
  /** The stream has left the budget: what it still holds is freed as it is sent or when the stream goes. */
  private leftBudget = false;
  private pending: Pending | undefined;
  private readonly onFinished = (): void => this.releaseAll();
  /** Wakes a delivery waiting for 'drain', so a close never leaves it hanging. */
  private readonly endCall: (success: boolean, err?: unknown) => void;
  private readonly onGone = (): void => this.close({ kind: 'gone' });

  private readonly drain: DrainWaiter;
  private readonly sink: FramedSink;

  constructor(
    private readonly call: SubscribeCall,
    private readonly deps: SubscribeSessionDeps,
  ) {
    this.endCall = deps.metrics.startCall('Subscribe');
    writeInBatches(call);
    this.sink = framedSink(call);
    this.drain = new DrainWaiter(this.sink.events);
  }

  /** Serves the stream until it closes; never rejects (failures end the stream with their status). */
  async run(): Promise<void> {
    this.call.on('cancelled', this.onGone);
    this.call.on('close', this.onGone);
    this.call.on('error', this.onGone);
    try {
      this.deps.gate.admit();
      this.deps.gate.track(this);
      const cursor = await this.open();
      if (this.state === 'closed') {
        cursor.close();
        return;
      }
      this.startStreaming(cursor);
      await this.deliver(cursor);
      // The cursor ended under a live stream: its partition was released (handed to another cluster member) or its
      // log closed. Not an OK end: the client resubscribes from the next id, wherever the partition now is.
      this.close({ kind: 'error', err: this.moved() });
    } catch (err) {
      this.close({ kind: 'error', err });
    }
  }

  shutdown(): void {
    this.close({ kind: 'shutdown' });
  }

  get queuedBytes(): number {
    return this.queued;
  }

  evict(): void {
    this.close({ kind: 'slow' });
  }

  /** Ended, and its client has not read what is queued: reset the HTTP/2 stream to drop it (freed on 'cancelled'). */
  abandon(): boolean {
    return resetCallStream(this.call);
  }

  private async open(): Promise<TailCursor> {
    const { subject, from } = this.deps.guard.subscribe(this.call.request);
    this.subject = subject;
    const registered = this.deps.subscribers.size;
    if (registered >= this.deps.maxSubscribers) {
      throw new OverloadedError(`this broker has ${registered} subscribers, its limit (BROKER_MAX_SUBSCRIBERS)`);
    }
    return this.deps.reader.tail(subject, from);
  }

  private startStreaming(cursor: TailCursor): void {
    this.state = 'streaming';
    this.cursor = cursor;
    this.deps.subscribers.add(this);
    this.deps.budget.join(this);
    this.deps.metrics.activeSubscribers.inc();
    // Headers tell the client the subscription is in place: everything published from now on reaches it.
    this.call.sendMetadata(new Metadata());
  }

  private isStreaming(): boolean {
    return this.state === 'streaming';
  }

  /**
   * Reads batches from the cursor and hands each to the delivery scheduler, which writes it in slices of the loop's
   * time shared with every other subscription (ingest runs between slices). Waits for 'drain' when the stream is
   * full, and takes the subscriber budget's slow path (evict, wait for room) when a record does not fit it.
   */
  private async deliver(cursor: TailCursor): Promise<void> {
    const metrics = this.deps.metrics;
    const scheduler = this.deps.scheduler ?? DeliveryScheduler.shared;
    while (this.isStreaming()) {
      const batch = await cursor.next();
      if (batch.length === 0) return;
      metrics.subscriberLag.observe(cursor.lag());
      this.pending = { batch, next: 0, shared: cursor.lastBatchShared, now: this.deps.now(), delivered: 0 };
      while (this.isStreaming() && this.pending.next < batch.length) {
        const stop = await scheduler.run(this);
        if (stop === 'drain') await this.drain.wait();
        else if (stop === 'budget') {
          const record = batch[this.pending.next];
          if (record === undefined) break;
          this.pending.next += 1;
          this.pending.delivered += 1;
          if (!(await this.write(this.encode(record), record.offset))) break;
        }
      }
      metrics.messagesDelivered.inc(this.pending.delivered);
      this.pending = undefined;
    }
  }

  /**
   * Writes up to `max` records of the batch in hand (the scheduler's slice) as one write of their shared frames.
   * Most fit the budget and the stream: those take no promise (a promise per delivery was a share of the CPU a
   * delivery costs in a 1,000-subscriber fan-out). Stops at a record the budget cannot take as it is ('budget':
   * deliver() writes it the slow way).
   */
  pump(max: number): PumpStop {
    const p = this.pending;
    if (p === undefined || !this.isStreaming()) return 'done';
    const { batch } = p;
    const { budget, retentionMs } = this.deps;
    const frames: Buffer[] = [];
    let bytes = 0;
    let stop: PumpStop = 'done';
    while (p.next < batch.length) {
      const record = batch[p.next];
      if (record === undefined) break;
      if (frames.length >= max) {
        stop = 'more';
        break;
      }
      if (isExpired(record, retentionMs, p.now)) {
        p.next += 1;
        continue;
      }
      const framed = this.encode(record);
      if (!budget.fits(framed.length)) {
        stop = 'budget';
        break;
      }
      budget.charge(framed.length);
      frames.push(framed);
      bytes += framed.length;
      this.lastWrittenId = record.offset;
      p.next += 1;
      p.delivered += 1;
      // grpc-js's path (a call paced by its delivery quota) takes one message at a time, stopping where it says wait.
      if (!this.sink.direct) {
        const room = this.flush(frames.splice(0), bytes);
        bytes = 0;
        if (!room) return 'drain';
      }
    }
    if (frames.length > 0 && !this.flush(frames, bytes)) return 'drain';
    return stop;
  }

  /** Records from the shared tail cache are framed once for every subscriber; a disk batch is this one's alone. */
  private encode(record: LogRecord): Buffer {
    return this.pending?.shared === true ? this.deps.encoded.framed(record) : frameMessage(record);
  }

  /**
   * Writes one encoded message within the subscriber budget; false when this stream was ended instead (it was the
   * slowest, or it closed while waiting for room). Respects the stream's backpressure: waits for the client to read
   * before reading further.
   */
  private async write(bytes: Buffer, id: number): Promise<boolean> {
    const budget = this.deps.budget;
    for (;;) {
      if (!this.isStreaming()) return false;
      const room = budget.admit(this, bytes.length);
      if (room === 'write') break;
      if (room === 'evicted') {
        this.evict();
        return false;
      }
      await budget.waitForRoom();
    }
    if (!this.send(bytes, id)) await this.drain.wait();
    return true;
  }

  /**
   * Writes within the budget (the caller made sure of the room); false when the stream wants the writer to wait
   * for 'drain' (the bytes are written either way).
   */
  private send(framed: Buffer, id: number): boolean {
    this.deps.budget.charge(framed.length);
    this.lastWrittenId = id;
    return this.flush([framed], framed.length);
  }

  /** Writes frames the budget was charged for; false when the stream wants the writer to wait for 'drain'. */
  private flush(frames: readonly Buffer[], bytes: number): boolean {
    this.queued += bytes;
    return this.sink.write(frames, bytes, () => this.released(bytes));
  }

  private released(bytes: number): void {
    if (this.queued < bytes) return; // already released with the whole stream
    this.queued -= bytes;
    this.deps.budget.release(bytes, this.leftBudget ? this : undefined);
  }

  /** The stream finished or went away: nothing it wrote is queued any more. */
  private releaseAll(): void {
    this.sink.events.off('finish', this.onFinished);
    this.sink.events.off('close', this.onFinished);
    this.call.off('cancelled', this.onFinished);
    if (this.queued > 0) this.released(this.queued);
  }

  private moved(): UnavailableError {
    const next = this.lastWrittenId + 1;
    return new UnavailableError(
      `the subject's partition moved to another broker or its log closed; resubscribe with from_id = ${next}`,
      { metadata: { subject: this.subject, lastId: String(this.lastWrittenId), moved: 'true' } },
    );
  }

  private slowConsumer(): SlowConsumerError {
    const budget = this.deps.budget;
    return new SlowConsumerError(this.subject, this.lastWrittenId, this.queued, budget.limit);
  }

  /** The one close path. */
  private close(ending: Ending): void {
    if (this.state === 'closed') return;
    const wasStreaming = this.state === 'streaming';
    this.state = 'closed';
    this.call.off('cancelled', this.onGone);
    this.call.off('close', this.onGone);
    this.call.off('error', this.onGone);
    this.deps.gate.untrack(this);
    this.cursor?.close();
    this.drain.releaseNow();
    this.deps.budget.leave(this);
    this.leftBudget = true;
    // What is still queued is freed as grpc-js sends it (write callbacks), or at once when the stream goes.
    if (this.call.cancelled || ending.kind === 'gone') this.releaseAll();
    else {
      this.sink.events.on('finish', this.onFinished);
      this.sink.events.on('close', this.onFinished);
      this.call.on('cancelled', this.onFinished);
    }
    if (wasStreaming && this.deps.subscribers.delete(this)) this.deps.metrics.activeSubscribers.dec();
    const failed = ending.kind !== 'end' && ending.kind !== 'gone';
    const err = failed ? this.endingError(ending) : undefined;
    this.endCall(!failed, err);
    if (this.call.cancelled || ending.kind === 'gone') return;
    if (!failed) this.call.end();
    else this.call.emit('error', toWireError(err, this.deps.logger));
  }

  /** The error a failed stream ends with (given to the client and counted by reason). */
  private endingError(ending: Ending): unknown {
    if (ending.kind === 'slow') return this.slowConsumer();
    if (ending.kind === 'shutdown') return shuttingDownError(SHUTDOWN_ADVICE.subscription);
    return ending.kind === 'error' ? ending.err : undefined;
  }
}
