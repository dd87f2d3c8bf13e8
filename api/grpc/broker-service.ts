import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import { pino } from 'pino';
import {
  DataLossError,
  DEFAULTS,
  ExpiredIdError,
  InvalidIdError,
  SubjectNotFoundError,
  expiresAtMs,
  isExpired,
  type AppendInput,
  type LogReader,
  type LogRecord,
  type LogWriter,
  type SubjectInfo as LogSubjectInfo,
} from '../../core/index.js';
import type {
  FetchRangeRequest,
  FetchRangeResponse,
  FetchRequest,
  GetSubjectRequest,
  ListSubjectsRequest,
  ListSubjectsResponse,
  MessageResponse,
  PublishBatchRequest,
  PublishBatchResponse,
  PublishRequest,
  PublishResponse,
  SubjectInfo,
} from '../../proto/gen/broker.js';
import type { BrokerMetrics } from '../metrics/broker-metrics.js';
import { CallGate } from './call-gate.js';
import { PublishStreamSession } from './publish-stream-session.js';
import { brokerServiceDefinition, EncodedMessages, toMessage, type BrokerHandlers } from './service-definition.js';
import { traceHandlers } from '../tracing/grpc-tracing.js';
import { processTracing } from '../tracing/process-tracing.js';
import { toWireError, type ErrorLogger } from './status.js';
import { PublishBudget } from './publish-budget.js';
import { UnaryPublish } from './unary-publish.js';
import { SubscribeSession } from './subscribe-session.js';
import { SubscriberBudget } from './subscriber-budget.js';
import { RequestGuard, pageToken } from './validate.js';
import type { AccessControl } from '../auth/access-control.js';
import { CallGuards, type AuthenticatedCall } from '../auth/call-guards.js';
import type { RequestRouter } from './request-router.js';
import { mergeSubjectPages } from './subject-pages.js';

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
  /** BROKER_MAX_RESPONSE_BYTES: the cap on a FetchRange page. @defaultValue DEFAULTS.maxResponseBytes */
  readonly maxResponseBytes?: number;
  /** BROKER_SUBSCRIBER_BUFFER_BYTES: bytes queued to all subscribers together. @defaultValue DEFAULTS.subscriberBufferBytes */
  readonly subscriberBufferBytes?: number;
  /** BROKER_MAX_INFLIGHT_PUBLISH_BYTES: body bytes of publishes in flight. @defaultValue DEFAULTS.maxInflightPublishBytes */
  readonly maxInflightPublishBytes?: number;
  readonly now?: () => number;
  /** With several workers: where calls for subjects of other workers' partitions go. @defaultValue all local */
  readonly router?: RequestRouter;
  /** SubjectInfo.owner for this broker's (or worker's) subjects. @defaultValue '' */
  readonly ownerName?: string;
  /**
   * Hears the detail (with its correlation id) of each unexpected failure; clients get only the id.
   * @defaultValue a pino logger on stdout at level error
   */
  readonly logger?: ErrorLogger;
  /** BROKER_AUTH_FILE: who each call is and what it may do (api/auth/). @defaultValue none: every call is allowed */
  readonly access?: AccessControl;
}

/**
 * broker.Broker: thin handlers that validate at the edge, let the log do the work, and map every failure to a
 * status in one place (toWireError). The streams are sessions of their own (SubscribeSession,
 * PublishStreamSession); the gate tracks what is open, so a graceful shutdown can drain it.
 */
export class BrokerService {
  private readonly guard: RequestGuard;
  private readonly guards: CallGuards;
  private readonly gate = new CallGate();
  private readonly subscribers = new Set<SubscribeSession>();
  private readonly now: () => number;
  private readonly encoded = new EncodedMessages();
  private readonly subscriberBudget: SubscriberBudget;
  private readonly publishBudget: PublishBudget;
  private readonly logger: ErrorLogger;
  private readonly unaryPublish: UnaryPublish;

  constructor(private readonly options: BrokerServiceOptions) {
    this.guard = new RequestGuard(options.maxBodyBytes, options.maxResponseBytes ?? DEFAULTS.maxResponseBytes);
    this.subscriberBudget = new SubscriberBudget(options.subscriberBufferBytes ?? DEFAULTS.subscriberBufferBytes);
    this.publishBudget = new PublishBudget(options.maxInflightPublishBytes ?? DEFAULTS.maxInflightPublishBytes);
    this.now = options.now ?? Date.now;
    this.logger = options.logger ?? pino({ level: 'error' });
    this.guards = new CallGuards(this.guard, options.maxBodyBytes, options.access);
    this.unaryPublish = new UnaryPublish({
      ...options,
      guards: this.guards,
      gate: this.gate,
      budget: this.publishBudget,
      logger: this.logger,
      authenticating: (call, callback, guard) =>
        this.unary('Publish', callback, async () => this.publish(call.request, await guard)),
    });
  }

  /** The handlers, for server.addService(brokerServiceDefinition, ...). */
  /** The handlers grpc-js calls; with tracing on, each call is a server span (api/tracing/). */
  handlers(): BrokerHandlers {
    return traceHandlers(processTracing(), brokerServiceDefinition, {
      publish: (call, callback) => this.unaryPublish.handle(call, callback),
      publishBatch: (call, callback) =>
        this.unary('PublishBatch', callback, async () =>
          this.publishBatch(call.request, await this.guards.of(call, 'PublishBatch')),
        ),
      fetch: (call, callback) =>
        this.unary('Fetch', callback, async () => this.fetch(call.request, await this.guards.of(call, 'Fetch'))),
      fetchRange: (call, callback) =>
        this.unary('FetchRange', callback, async () =>
          this.fetchRange(call.request, abandoned(call), await this.guards.of(call, 'FetchRange')),
        ),
      listSubjects: (call, callback) =>
        this.unary('ListSubjects', callback, async () =>
          CallGuards.visible(
            await this.guards.of(call, 'ListSubjects'),
            this.listSubjects(call.request, abandoned(call)),
          ),
        ),
      getSubject: (call, callback) =>
        this.unary('GetSubject', callback, async () =>
          this.getSubject(call.request, await this.guards.of(call, 'GetSubject')),
        ),
      subscribe: (call) => void this.subscribe(call),
      publishStream: (call) => this.publishStream(call),
    } satisfies BrokerHandlers);
  }

  /** Stops taking calls: new ones get UNAVAILABLE, open streams end with UNAVAILABLE (PublishStreams after their acks). */
  beginShutdown(): void {
    this.gate.beginShutdown();
  }

  /** Resolves true when no publish or other unary call is in flight, or false after timeoutMs. */
  drain(timeoutMs: number): Promise<boolean> {
    return this.gate.drain(timeoutMs);
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** A stream opens once its caller is known; one refused ends with its status before any request is read. */
  private withGuard(call: AuthenticatedCall & StreamCall, method: string, open: (guard: RequestGuard) => void): void {
    const guard = this.guards.of(call, method);
    if (guard instanceof RequestGuard) return open(guard);
    guard.then(open, (err: unknown) => {
      this.options.metrics.startCall(method)(false);
      call.emit('error', toWireError(err, this.logger));
    });
  }

  private subscribe(call: Parameters<BrokerHandlers['subscribe']>[0]): void {
    this.withGuard(call, 'Subscribe', (guard) => void this.subscribeWith(CallGuards.paced(guard, call), guard));
  }

  private subscribeWith(call: Parameters<BrokerHandlers['subscribe']>[0], guard: RequestGuard): Promise<void> {
    return new SubscribeSession(call, {
      reader: this.options.reader,
      guard,
      gate: this.gate,
      metrics: this.options.metrics,
      encoded: this.encoded,
      subscribers: this.subscribers,
      maxSubscribers: this.options.maxSubscribers,
      retentionMs: this.options.retentionMs,
      now: this.now,
      logger: this.logger,
      budget: this.subscriberBudget,
    }).run();
  }

  private publishStream(call: Parameters<BrokerHandlers['publishStream']>[0]): void {
    this.withGuard(call, 'PublishStream', (guard) =>
      this.publishStreamWith(call, this.guards.pacedPublishes(guard, call)),
    );
  }

  private publishStreamWith(call: Parameters<BrokerHandlers['publishStream']>[0], guard: RequestGuard): void {
    new PublishStreamSession(call, {
      writer: this.options.writer,
      guard,
      gate: this.gate,
      metrics: this.options.metrics,
      logger: this.logger,
      budget: this.publishBudget,
      ...(this.options.maxStreamInFlight === undefined ? {} : { maxInFlight: this.options.maxStreamInFlight }),
    }).start();
  }

  private unary<Res>(method: string, callback: sendUnaryData<Res>, work: () => Promise<Res>): void {
    const end = this.options.metrics.startCall(method);
    let entered = false;
    const run = async (): Promise<Res> => {
      this.gate.enter();
      entered = true;
      return work();
    };
    run().then(
      (response) => {
        if (entered) this.gate.leave();
        end(true);
        callback(null, response);
      },
      (err: unknown) => {
        if (entered) this.gate.leave();
        end(false, err);
        callback(toWireError(err, this.logger));
      },
    );
  }

  private async publish(req: PublishRequest, guard: RequestGuard): Promise<PublishResponse> {
    const input = guard.publish(req);
    return this.withinBudget(input.body.length, async () => ({ id: await this.options.writer.append(input) }));
  }

  /** Runs a publish within the in-flight publish bytes budget, or refuses it (retriable) when the budget is spent. */
  private async withinBudget<T>(bytes: number, work: () => Promise<T>): Promise<T> {
    this.publishBudget.take(bytes);
    try {
      return await work();
    } finally {
      this.publishBudget.release(bytes);
    }
  }

  private async publishBatch(req: PublishBatchRequest, guard: RequestGuard): Promise<PublishBatchResponse> {
    const inputs = guard.publishBatch(req);
    const bytes = inputs.reduce((sum, input) => sum + input.body.length, 0);
    return this.withinBudget(bytes, () => this.appendBatch(inputs));
  }

  private async appendBatch(inputs: AppendInput[]): Promise<PublishBatchResponse> {
    // One atomic append across subjects: a crash leaves all of the batch or none; keyed messages are deduplicated.
    return { ids: await this.options.writer.appendBatch(inputs) };
  }

  private async fetch(request: FetchRequest, guard: RequestGuard): Promise<MessageResponse> {
    const { subject, id } = guard.fetch(request);
    const peer = this.options.router?.peerFor(subject);
    if (peer !== undefined) return peer.fetch(request);
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
      case 'lost':
        throw new DataLossError(subject, id, found.detail);
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
    request: FetchRangeRequest,
    signal: AbortSignal,
    guard: RequestGuard,
  ): Promise<FetchRangeResponse> {
    const req = guard.fetchRange(request);
    const peer = this.options.router?.peerFor(req.subject);
    if (peer !== undefined) return peer.fetchRange(request, signal);
    const info = await this.options.reader.subjectInfo(req.subject);
    const lastOffset = info?.lastOffset ?? 0;
    if (req.from > lastOffset + 1) {
      throw new InvalidIdError(req.subject, req.from, `from_id is beyond the next id ${lastOffset + 1}`);
    }
    const firstId = info?.firstOffset ?? 1;
    // From req.from, not the local first id: the tiered reader serves ids below it from the cold tier (removed here,
    // or lost with a disk or a killed owner and replicated); an empty page still moves the client on to firstId.
    const records = await this.options.reader.readRange(req.subject, Math.max(req.from, 1), {
      maxRecords: req.maxRecords,
      maxBytes: req.maxBytes,
      signal,
    });
    const now = this.now();
    const page = withinResponseBytes(records, this.guard.maxResponseBytes);
    const messages = page.filter((r) => !isExpired(r, this.options.retentionMs, now)).map(toMessage);
    const last = page.at(-1);
    const nextId = last === undefined ? Math.max(firstId, req.from) : last.offset + 1;
    return { messages, nextId, firstId, lastId: lastOffset };
  }

  private async listSubjects(request: ListSubjectsRequest, signal: AbortSignal): Promise<ListSubjectsResponse> {
    const req = this.guard.listSubjects(request.prefix, request.pageSize, request.pageToken);
    const page = await this.options.reader.listSubjects({
      prefix: req.prefix,
      limit: req.limit + 1,
      signal,
      ...(req.after === undefined ? {} : { after: req.after }),
    });
    const subjects = page.slice(0, req.limit).map((s) => this.toSubjectInfo(s));
    const others = this.options.router?.others() ?? [];
    if (others.length === 0) {
      const last = subjects.at(-1);
      return { subjects, nextPageToken: page.length > req.limit && last !== undefined ? pageToken(last.subject) : '' };
    }
    const forwarded = { ...request, pageSize: req.limit };
    const remote = await Promise.all(others.map((peer) => peer.listSubjects(forwarded, signal)));
    return mergeSubjectPages(
      [
        { subjects, more: page.length > req.limit },
        ...remote.map((r) => ({ subjects: r.subjects, more: r.nextPageToken !== '' })),
      ],
      req.limit,
    );
  }

  private async getSubject(request: GetSubjectRequest, guard: RequestGuard): Promise<SubjectInfo> {
    const { subject } = guard.getSubject(request);
    const peer = this.options.router?.peerFor(subject);
    if (peer !== undefined) return peer.getSubject(request);
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
      owner: this.options.ownerName ?? '',
    };
  }
}

/** A server stream, as far as ending it with a status goes. */
type StreamCall = { emit(event: 'error', err: unknown): boolean };

/**
 * Aborted when the client gives up on the call (it cancels, or its deadline passes: grpc-js cancels the call on the
 * server then), so a read it abandoned stops instead of running to the end for nobody.
 */
function abandoned<Req, Res>(call: ServerUnaryCall<Req, Res>): AbortSignal {
  const controller = new AbortController();
  if (call.cancelled) controller.abort();
  else call.once('cancelled', () => controller.abort());
  return controller.signal;
}

/** Protobuf framing of one MessageResponse beyond its body and subject (ids, times, tags, lengths), rounded up. */
const MESSAGE_OVERHEAD_BYTES = 48;

/** The records that fit a response of maxBytes (at least one), so a page never exceeds the server's cap. */
function withinResponseBytes(records: LogRecord[], maxBytes: number): LogRecord[] {
  let bytes = 0;
  for (let i = 0; i < records.length; i++) {
    const record = records[i];
    if (record === undefined) break;
    bytes += record.body.length + Buffer.byteLength(record.subject) + MESSAGE_OVERHEAD_BYTES;
    if (i > 0 && bytes > maxBytes) return records.slice(0, i);
  }
  return records;
}
