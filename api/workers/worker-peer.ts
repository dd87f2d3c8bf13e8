import {
  InterceptingCall,
  credentials,
  type ChannelCredentials,
  type ClientUnaryCall,
  type Interceptor,
  type Metadata,
  type ServiceError,
} from '@grpc/grpc-js';
import {
  BrokerClient,
  type FetchRangeRequest,
  type FetchRangeResponse,
  type FetchRequest,
  type GetSubjectRequest,
  type ListSubjectsRequest,
  type ListSubjectsResponse,
  type MessageResponse,
  type PublishBatchRequest,
  type PublishBatchResponse,
  type SubjectInfo,
} from '../../proto/gen/broker.js';
import type { AppendInput } from '../../core/index.js';
import { ForwardingClient } from '../../proto/gen/internal.js';
import type { OwnerPeer } from '../grpc/request-router.js';
import { forwardedCall } from './owner-calls.js';
import { PublishForwarder, toPublishRequest, type PublishForwarderOptions } from './publish-forwarder.js';
import { fromServiceError } from './remote-error.js';
import { tracingInterceptor } from '../tracing/grpc-tracing.js';
import { processTracing } from '../tracing/process-tracing.js';

/** Channel options between workers: no message size cap of their own (each side's public limits already applied). */
const INTERNAL_CHANNEL = {
  'grpc.max_receive_message_length': -1,
  'grpc.max_send_message_length': -1,
  // One connection per pair of workers, not shared with other clients in the process (tests run several brokers).
  'grpc.use_local_subchannel_pool': 1,
  // A restarted worker is back within a second or two: grpc-js's default backoff (1 s growing to 120 s) would keep
  // the calls and upstream subscriptions waiting on it long after.
  'grpc.initial_reconnect_backoff_ms': 50,
  'grpc.max_reconnect_backoff_ms': 1_000,
} as const;

/** Turns off waitForReady on every call of a channel (the forwarded-call metadata turns it on). */
const failFast: Interceptor = (options, nextCall) =>
  new InterceptingCall(nextCall(options), {
    start(metadata, listener, next) {
      metadata.setOptions({ ...metadata.getOptions(), waitForReady: false });
      next(metadata, listener);
    },
  });

/** How long a forwarded read waits for its owner (e.g. restarting) before it fails UNAVAILABLE. */
const READ_DEADLINE_MS = 15_000;

type Unary<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: { deadline: number },
  callback: (err: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

/** Another worker, over its unix socket: the owner side of every call this worker forwards to it. */
export class WorkerPeer implements OwnerPeer {
  readonly client: BrokerClient;
  readonly publishes: PublishForwarder;
  private readonly forwarding: ForwardingClient;

  constructor(
    readonly name: string,
    /** `unix:/path/to/worker.sock` */
    address: string,
    options: {
      forwarder?: PublishForwarderOptions;
      onCall?: (method: string) => void;
      /**
       * Fail a call at once when the peer cannot be reached, instead of waiting for it: a cluster member that died
       * is not coming back at that address soon, and its partitions move to another member (retry there).
       * @defaultValue false: wait (a worker of the same broker is restarted within a second or two)
       */
      failFast?: boolean;
      /** Interceptors of every call (the cluster token's). @defaultValue none */
      interceptors?: Interceptor[];
      /** TLS to another cluster member (security-parts.ts). @defaultValue plaintext (a unix socket) */
      credentials?: ChannelCredentials;
    } = {},
  ) {
    // With tracing on, every forwarded call is a client span whose traceparent the owner continues.
    const tracing = processTracing();
    const interceptors = [
      ...(options.interceptors ?? []),
      ...(options.failFast === true ? [failFast] : []),
      ...(tracing === undefined ? [] : [tracingInterceptor(tracing)]),
    ];
    const channel = interceptors.length > 0 ? { ...INTERNAL_CHANNEL, interceptors } : INTERNAL_CHANNEL;
    const secured = options.credentials ?? credentials.createInsecure();
    this.client = new BrokerClient(address, secured, channel);
    this.forwarding = new ForwardingClient(address, secured, channel);
    this.publishes = new PublishForwarder(this.forwarding, name, { ...options.forwarder, tracing });
    this.onCall = options.onCall ?? (() => undefined);
  }

  private readonly onCall: (method: string) => void;

  /** `deadline` (ms since the epoch) shortens the read's wait for its owner (OwnerMoves.answerBy). */
  fetch(request: FetchRequest, deadline?: number): Promise<MessageResponse> {
    const method = this.client.fetch.bind(this.client) as Unary<FetchRequest, MessageResponse>;
    return this.call('Fetch', method, request, undefined, deadline);
  }

  fetchRange(request: FetchRangeRequest, signal?: AbortSignal, deadline?: number): Promise<FetchRangeResponse> {
    const method = this.client.fetchRange.bind(this.client) as Unary<FetchRangeRequest, FetchRangeResponse>;
    return this.call('FetchRange', method, request, signal, deadline);
  }

  getSubject(request: GetSubjectRequest, deadline?: number): Promise<SubjectInfo> {
    const method = this.client.getSubject.bind(this.client) as Unary<GetSubjectRequest, SubjectInfo>;
    return this.call('GetSubject', method, request, undefined, deadline);
  }

  listSubjects(request: ListSubjectsRequest, signal?: AbortSignal): Promise<ListSubjectsResponse> {
    const method = this.client.listSubjects.bind(this.client) as Unary<ListSubjectsRequest, ListSubjectsResponse>;
    return this.call('ListSubjects', method, request, signal);
  }

  /** Appends the inputs at the owner as one PublishBatch (atomic there per partition); resolves their ids in order. */
  async publishBatch(inputs: readonly AppendInput[]): Promise<number[]> {
    const messages = inputs.map(toPublishRequest);
    const method = this.client.publishBatch.bind(this.client) as Unary<PublishBatchRequest, PublishBatchResponse>;
    return (await this.call('PublishBatch', method, { messages })).ids;
  }

  close(): void {
    this.client.close();
    this.forwarding.close();
  }

  private call<Req, Res>(
    name: string,
    method: Unary<Req, Res>,
    request: Req,
    signal?: AbortSignal,
    deadline?: number,
  ): Promise<Res> {
    this.onCall(name);
    const by = Math.min(deadline ?? Infinity, Date.now() + READ_DEADLINE_MS);
    return new Promise<Res>((resolve, reject) => {
      const call = method(request, forwardedCall(), { deadline: by }, (err, response) => {
        signal?.removeEventListener('abort', cancel);
        if (err !== null) reject(fromServiceError(err, this.name));
        else resolve(response);
      });
      const cancel = (): void => call.cancel();
      signal?.addEventListener('abort', cancel, { once: true });
    });
  }
}
