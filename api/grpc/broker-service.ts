import {
  Metadata,
  type ServerDuplexStream,
  type ServerWritableStream,
  type ServerUnaryCall,
  type sendUnaryData,
} from '@grpc/grpc-js';
import {
  ExpiredIdError,
  InvalidIdError,
  OverloadedError,
  SubjectNotFoundError,
  UnavailableError,
  expiresAtMs,
  isExpired,
  validateSubject,
  type LogReader,
  type TailCursor,
  type LogWriter,
  type SubjectInfo as LogSubjectInfo,
} from '../../core/index.js';
import type {
  FetchRangeResponse,
  PublishBatchRequest,
  PublishBatchResponse,
  MessageResponse,
  PublishRequest,
  PublishResponse,
  SubjectInfo,
  SubscribeRequest,
} from '../../proto/gen/broker.js';
import type { BrokerMetrics } from '../metrics/broker-metrics.js';
import { EncodedMessages, toMessage, type BrokerHandlers } from './service-definition.js';
import { toWireError, type WireError } from './status.js';
import { RequestGuard, pageToken } from './validate.js';

export interface BrokerServiceOptions {
  /** Where publishes go. */
  readonly writer: LogWriter;
  /** What Fetch, FetchRange, Subscribe and the subject calls read from (the tiered reader when there is a cold tier). */
  readonly reader: LogReader;
  readonly metrics: BrokerMetrics;
  /** The subject retention in ms (0 = for ever), applied at read time. */
  readonly retentionMs: number;
  readonly maxBodyBytes: number;
  readonly maxSubscribers: number;
  /** Requests of one PublishStream appended but not yet acknowledged before the stream stops reading. @defaultValue 1024 */
  readonly maxStreamInFlight?: number;
  readonly now?: () => number;
}

type SubscribeCall = ServerWritableStream<SubscribeRequest, MessageResponse | Buffer>;
type Subscription = { call: SubscribeCall; stop: () => void };

/**
 * broker.Broker: thin handlers that validate at the edge, let the log do the work, and map every failure to a
 * status in one place (toWireError). It also tracks what is open, so a graceful shutdown can drain it.
 */
export class BrokerService {
  private readonly guard: RequestGuard;
  private readonly subscriptions = new Set<Subscription>();
  /** Open PublishStreams: each ends with UNAVAILABLE on shutdown, after acknowledging what it has appended. */
  private readonly publishStreams = new Set<(err: unknown) => void>();
  private inFlight = 0;
  private drained: Array<() => void> = [];
  private shuttingDown = false;
  private readonly now: () => number;
  private readonly encoded = new EncodedMessages();

  constructor(private readonly options: BrokerServiceOptions) {
    this.guard = new RequestGuard(options.maxBodyBytes);
    this.now = options.now ?? Date.now;
  }

  /** The handlers, for server.addService(brokerServiceDefinition, ...). */
  handlers(): BrokerHandlers {
    return {
      publish: (call, callback) => this.unary('Publish', call, callback, () => this.publish(call.request)),
      publishBatch: (call, callback) =>
        this.unary('PublishBatch', call, callback, () => this.publishBatch(call.request)),
      fetch: (call, callback) =>
        this.unary('Fetch', call, callback, () => this.fetch(call.request.subject, call.request.id)),
      fetchRange: (call, callback) => this.unary('FetchRange', call, callback, () => this.fetchRange(call)),
      listSubjects: (call, callback) =>
        this.unary('ListSubjects', call, callback, () =>
          this.listSubjects(call.request.prefix, call.request.pageSize, call.request.pageToken),
        ),
      getSubject: (call, callback) =>
        this.unary('GetSubject', call, callback, () => this.getSubject(call.request.subject)),
      subscribe: (call) => void this.subscribe(call),
      publishStream: (call) => this.publishStream(call),
    };
  }

  /** Stops taking calls: new ones get UNAVAILABLE, open subscriptions end with UNAVAILABLE. */
  beginShutdown(): void {
    this.shuttingDown = true;
    for (const sub of [...this.subscriptions]) sub.stop();
    for (const fail of [...this.publishStreams])
      fail(
        new UnavailableError('the broker is shutting down; publish the requests not acknowledged on this stream again'),
      );
  }

  /** Resolves when no publish or other unary call is in flight (or after timeoutMs). */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.inFlight === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      new Promise<boolean>((resolve) => this.drained.push(() => resolve(true))),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    return done;
  }

  get subscriberCount(): number {
    return this.subscriptions.size;
  }

  private enter(): void {
    if (this.shuttingDown)
      throw new UnavailableError('the broker is shutting down; retry against another broker or after restart');
    this.inFlight += 1;
  }

  private leave(): void {
    this.inFlight -= 1;
    if (this.inFlight === 0 && this.drained.length > 0) {
      const waiting = this.drained;
      this.drained = [];
      for (const done of waiting) done();
    }
  }

  private unary<Req, Res>(
    method: string,
    _call: ServerUnaryCall<Req, Res>,
    callback: sendUnaryData<Res>,
    work: () => Promise<Res>,
  ): void {
    const end = this.options.metrics.startCall(method);
    let entered = false;
    const run = async (): Promise<Res> => {
      this.enter();
      entered = true;
      return work();
    };
    run().then(
      (response) => {
        if (entered) this.leave();
        end(true);
        callback(null, response);
      },
      (err: unknown) => {
        if (entered) this.leave();
        end(false);
        callback(toWireError(err));
      },
    );
  }

  private async publish(req: PublishRequest): Promise<PublishResponse> {
    const input = this.guard.publish(req);
    return { id: await this.options.writer.append(input) };
  }

  private async publishBatch(req: PublishBatchRequest): Promise<PublishBatchResponse> {
    const inputs = this.guard.publishBatch(req);
    // One appendMany per subject: its messages get consecutive ids in one write; all subjects' appends are issued in
    // this turn, so the group commit usually writes the whole batch at once.
    const bySubject = new Map<string, number[]>();
    inputs.forEach((input, i) => {
      const indices = bySubject.get(input.subject);
      if (indices === undefined) bySubject.set(input.subject, [i]);
      else indices.push(i);
    });
    const ids = new Array<number>(inputs.length);
    await Promise.all(
      [...bySubject.values()].map(async (indices) => {
        const offsets = await this.options.writer.appendMany(indices.map((i) => inputs[i]!));
        indices.forEach((i, k) => (ids[i] = offsets[k]!));
      }),
    );
    return { ids };
  }

  private async fetch(rawSubject: string, id: number): Promise<MessageResponse> {
    const { subject } = this.guard.fetch({ subject: rawSubject, id });
    const found = await this.options.reader.get(subject, id);
    switch (found.kind) {
      case 'never':
        throw new InvalidIdError(
          subject,
          id,
          found.lastOffset === 0
            ? 'the subject has no messages'
            : `ids on this subject run from 1 to ${found.lastOffset}`,
        );
      case 'removed':
        throw new ExpiredIdError(subject, id, `removed by retention; the first retained id is ${found.firstOffset}`);
      case 'record': {
        const record = found.record;
        if (isExpired(record, this.options.retentionMs, this.now())) {
          const at = new Date(
            expiresAtMs(record.publishedAtMs, record.expirationSeconds, this.options.retentionMs),
          ).toISOString();
          const why =
            record.expirationSeconds > 0 ? `its expiration of ${record.expirationSeconds}s` : 'the subject retention';
          throw new ExpiredIdError(subject, id, `${why} ended at ${at}`);
        }
        return toMessage(record);
      }
    }
  }

  private async fetchRange(
    call: ServerUnaryCall<
      { subject: string; fromId: number; maxMessages: number; maxBytes: number },
      FetchRangeResponse
    >,
  ): Promise<FetchRangeResponse> {
    const req = this.guard.fetchRange(call.request);
    const info = await this.options.reader.subjectInfo(req.subject);
    const lastOffset = info?.lastOffset ?? 0;
    if (req.from > lastOffset + 1) {
      throw new InvalidIdError(req.subject, req.from, `from_id is beyond the next id ${lastOffset + 1}`);
    }
    const from = Math.max(req.from, info?.firstOffset ?? 1);
    const records = await this.options.reader.readRange(req.subject, from, {
      maxRecords: req.maxRecords,
      maxBytes: req.maxBytes,
    });
    const now = this.now();
    const messages = records.filter((r) => !isExpired(r, this.options.retentionMs, now)).map(toMessage);
    const nextId = records.length > 0 ? records[records.length - 1]!.offset + 1 : Math.max(from, req.from);
    return { messages, nextId, firstId: info?.firstOffset ?? 1, lastId: lastOffset };
  }

  private async listSubjects(
    prefix: string,
    pageSize: number,
    token: string,
  ): Promise<{ subjects: SubjectInfo[]; nextPageToken: string }> {
    const req = this.guard.listSubjects(prefix, pageSize, token);
    const page = await this.options.reader.listSubjects({
      prefix: req.prefix,
      limit: req.limit + 1,
      ...(req.after === undefined ? {} : { after: req.after }),
    });
    const more = page.length > req.limit;
    const subjects = page.slice(0, req.limit).map((s) => this.toSubjectInfo(s));
    return { subjects, nextPageToken: more ? pageToken(subjects[subjects.length - 1]!.subject) : '' };
  }

  private async getSubject(rawSubject: string): Promise<SubjectInfo> {
    const subject = validateSubject(rawSubject);
    const info = await this.options.reader.subjectInfo(subject);
    if (info === undefined) throw new SubjectNotFoundError(subject);
    return this.toSubjectInfo(info);
  }

  private toSubjectInfo(info: LogSubjectInfo): SubjectInfo {
    return {
      subject: info.subject,
      firstId: info.firstOffset,
      lastId: info.lastOffset,
      count: info.count,
      bytes: info.bytes,
      segments: info.segments,
      sealedSegments: info.sealedSegments,
      replicatedSegments: info.replicatedSegments,
      retentionSeconds: Math.floor(this.options.retentionMs / 1000),
    };
  }

  private async subscribe(call: SubscribeCall): Promise<void> {
    const metrics = this.options.metrics;
    const end = metrics.startCall('Subscribe');
    let stopped = false;
    let shutdownError: WireError | undefined;
    let wakeDrain: (() => void) | undefined;
    let cursor: TailCursor | undefined;
    const stop = (): void => {
      if (stopped) return;
      stopped = true;
      cursor?.close();
      wakeDrain?.();
    };
    const sub: Subscription = {
      call,
      stop: () => {
        shutdownError = toWireError(new UnavailableError('the broker is shutting down; resubscribe from the next id'));
        stop();
      },
    };
    call.on('cancelled', stop);
    call.on('close', stop);
    call.on('error', stop);
    try {
      if (this.shuttingDown)
        throw new UnavailableError('the broker is shutting down; retry against another broker or after restart');
      const { subject, from } = this.guard.subscribe(call.request);
      if (this.subscriptions.size >= this.options.maxSubscribers) {
        throw new OverloadedError(
          `this broker has ${this.subscriptions.size} subscribers, its limit (BROKER_MAX_SUBSCRIBERS)`,
        );
      }
      cursor = await this.options.reader.tail(subject, from);
      // A shutdown that began while the cursor was opening ends this stream as it would have ended a registered one.
      if (this.shuttingDown && !stopped) sub.stop();
      if (stopped) {
        cursor.close();
      } else {
        this.subscriptions.add(sub);
        metrics.activeSubscribers.inc();
        // Headers tell the client the subscription is in place: everything published from now on reaches it.
        call.sendMetadata(new Metadata());
      }
      try {
        while (!stopped) {
          const batch = await cursor.next();
          if (batch.length === 0) break;
          metrics.subscriberLag.observe(cursor.lag());
          const now = this.now();
          // Records from the shared tail cache are encoded once for every subscriber; a batch read from disk for
          // this subscriber alone is encoded here and dropped with it.
          const shared = cursor.lastBatchShared;
          let delivered = 0;
          for (const record of batch) {
            if (stopped) break;
            if (isExpired(record, this.options.retentionMs, now)) continue;
            delivered += 1;
            if (!call.write(shared ? this.encoded.of(record) : toMessage(record))) {
              // Respect the stream's backpressure: wait for the client to read before reading further.
              await new Promise<void>((resolve) => {
                const done = (): void => {
                  call.off('drain', done);
                  wakeDrain = undefined;
                  resolve();
                };
                wakeDrain = done;
                call.on('drain', done);
              });
            }
          }
          metrics.messagesDelivered.inc(delivered);
        }
      } finally {
        if (this.subscriptions.delete(sub)) metrics.activeSubscribers.dec();
        cursor.close();
      }
      if (shutdownError !== undefined) {
        end(false);
        call.emit('error', shutdownError);
      } else {
        end(true);
        if (!call.cancelled) call.end();
      }
    } catch (err) {
      end(false);
      if (!call.cancelled) call.emit('error', toWireError(err));
    }
  }

  private publishStream(call: ServerDuplexStream<PublishRequest, PublishResponse>): void {
    const endCall = this.options.metrics.startCall('PublishStream');
    let counted = false;
    const end = (success: boolean): void => {
      if (counted) return;
      counted = true;
      endCall(success);
    };
    let cancelled: () => void = () => undefined;
    const whenCancelled = new Promise<void>((resolve) => (cancelled = resolve));
    const maxInFlight = this.options.maxStreamInFlight ?? 1024;
    let chain: Promise<void> = Promise.resolve();
    let failed = false;
    let ended = false;
    let pending = 0;
    let paused = false;
    const fail = (err: unknown): void => {
      if (failed) return;
      failed = true;
      this.publishStreams.delete(fail);
      call.pause();
      // Every earlier request is acknowledged before the stream ends with this one's status.
      chain = chain.then(() => {
        ended = true;
        end(false);
        if (!call.cancelled) call.emit('error', toWireError(err));
      });
    };
    if (this.shuttingDown) {
      fail(new UnavailableError('the broker is shutting down; retry against another broker or after restart'));
      return;
    }
    this.publishStreams.add(fail);
    call.on('data', (req: PublishRequest) => {
      if (failed) return;
      let appended: Promise<number>;
      try {
        if (this.shuttingDown)
          throw new UnavailableError('the broker is shutting down; retry against another broker or after restart');
        appended = this.options.writer.append(this.guard.publish(req));
      } catch (err) {
        fail(err);
        return;
      }
      this.inFlight += 1;
      pending += 1;
      if (pending >= maxInFlight && !paused) {
        paused = true;
        call.pause();
      }
      appended.catch(() => undefined);
      chain = chain.then(async () => {
        try {
          const id = await appended;
          if (!ended && !call.cancelled && !call.write({ id })) {
            // A client that does not read its acks stops this chain, so pending reaches the bound and reading pauses.
            await Promise.race([new Promise<void>((resolve) => call.once('drain', resolve)), whenCancelled]);
          }
        } catch (err) {
          fail(err);
        } finally {
          pending -= 1;
          this.leave();
          if (paused && pending < maxInFlight / 2 && !failed) {
            paused = false;
            call.resume();
          }
        }
      });
    });
    call.on('end', () => {
      this.publishStreams.delete(fail);
      chain = chain.then(() => {
        if (failed) return;
        ended = true;
        end(true);
        call.end();
      });
    });
    call.on('cancelled', () => {
      this.publishStreams.delete(fail);
      failed = true;
      ended = true;
      end(false);
      cancelled();
    });
  }
}
