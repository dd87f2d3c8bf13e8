import {
  InterceptingCall,
  credentials,
  status,
  type Interceptor,
  type Metadata,
  type ServiceError,
} from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import {
  BrokerClient,
  type PublishBatchResponse,
  type PublishRequest,
  type PublishResponse,
} from '../../proto/gen/broker.js';
import { errorReason } from '../grpc/status.js';

/** How the CLI reaches a secured broker (the global flags --tls-ca, --cert, --key, --token). */
export interface ClientSecurity {
  /** PEM CA file the broker's certificate is checked with; set = TLS. */
  readonly tlsCa?: string | undefined;
  /** PEM client certificate and key files, for a broker that requires them (mTLS). */
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
  /** A bearer token (or JWT) sent as `authorization: Bearer <token>` on every call. */
  readonly token?: string | undefined;
}

/** A broker.Broker client for the CLI: plaintext, or TLS with the CA given (and a client certificate). */
export function connect(address: string, security: ClientSecurity = {}): BrokerClient {
  const channel =
    security.tlsCa === undefined
      ? credentials.createInsecure()
      : credentials.createSsl(
          readFileSync(security.tlsCa),
          security.key === undefined ? null : readFileSync(security.key),
          security.cert === undefined ? null : readFileSync(security.cert),
        );
  const token = security.token;
  // An interceptor, not call credentials: grpc-js sends call credentials over TLS only, and a token may be used
  // with a plaintext broker on a trusted network.
  const withToken: Interceptor = (options, nextCall) =>
    new InterceptingCall(nextCall(options), {
      start: (metadata, listener, next) => {
        if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
        next(metadata, listener);
      },
    });
  return new BrokerClient(address, channel, {
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    ...(token === undefined ? {} : { interceptors: [withToken] }),
  });
}

/** Calls a unary method as a promise: unary((done) => client.publish(request, done)). */
export function unary<Res>(start: (done: (err: ServiceError | null, res: Res) => void) => unknown): Promise<Res> {
  return new Promise((resolve, reject) => {
    start((err, res) => (err ? reject(err) : resolve(res)));
  });
}

/**
 * Publishes requests on one PublishStream, pipelined (up to `window` unacknowledged), calling onAck with each id
 * in request order. Rejects with the stream's status if the broker rejects a request (nothing after it is appended).
 */
export async function publishPipelined(
  client: BrokerClient,
  requests: AsyncIterable<PublishRequest> | Iterable<PublishRequest>,
  onAck: (id: number, index: number) => void,
  window = 256,
): Promise<number> {
  const call = client.publishStream();
  let sent = 0;
  let acked = 0;
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  const done = new Promise<void>((resolve, reject) => {
    call.on('data', (res: PublishResponse) => {
      onAck(res.id, acked);
      acked += 1;
      wake?.();
    });
    call.on('error', (err: Error) => {
      failure = err;
      wake?.();
      reject(err);
    });
    call.on('end', () => resolve());
  });
  done.catch(() => undefined);
  for await (const req of requests) {
    while (sent - acked >= window && failure === undefined) await new Promise<void>((resolve) => (wake = resolve));
    if (failure !== undefined) break;
    sent += 1;
    if (!call.write(req)) await new Promise<void>((resolve) => call.once('drain', resolve));
  }
  call.end();
  await done;
  return acked;
}

/**
 * Publishes requests in PublishBatch calls of up to `size` messages, one call at a time, calling onAck with each id
 * in request order. Rejects with the status of the first rejected batch (nothing of that batch is appended).
 */
export async function publishBatched(
  client: BrokerClient,
  requests: AsyncIterable<PublishRequest> | Iterable<PublishRequest>,
  size: number,
  onAck: (id: number, index: number) => void,
): Promise<number> {
  let acked = 0;
  let batch: PublishRequest[] = [];
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const messages = batch;
    batch = [];
    const res = await unary<PublishBatchResponse>((done) => client.publishBatch({ messages }, done));
    for (const id of res.ids) onAck(id, acked++);
  };
  for await (const req of requests) {
    batch.push(req);
    if (batch.length >= size) await flush();
  }
  await flush();
  return acked;
}

/** `<REASON>: <message>` of a failed call: the ErrorInfo reason the broker sent, else the gRPC status name. */
export function describeError(err: unknown): { reason: string; message: string } {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'number' && 'metadata' in err) {
    const e = err as ServiceError & { metadata: Metadata };
    const reason = errorReason(e) ?? status[e.code] ?? `CODE_${e.code}`;
    return { reason, message: (e.details === '' ? e.message : e.details).replace(/\. Resolution note: *$/, '') };
  }
  if (err instanceof Error) return { reason: err.name === 'Error' ? 'ERROR' : err.name, message: err.message };
  return { reason: 'ERROR', message: String(err) };
}
