// Shared pieces of the k6 scripts: the client, the proto, payloads, publishing and timed subscriptions.
import grpc from 'k6/net/grpc';
import encoding from 'k6/encoding';

export const ADDRESS = __ENV.BROKER_ADDRESS || 'localhost:50051';
export const PAYLOAD_BYTES = Number(__ENV.PAYLOAD_BYTES || 1024);
export const BODY = encoding.b64encode('x'.repeat(PAYLOAD_BYTES));

// A secured broker (README "Security"), with the CLI's variables: BROKER_TLS_CA turns TLS on (the broker's
// certificate checked with it and the host of BROKER_ADDRESS), BROKER_CLIENT_CERT/KEY are the client certificate
// for mTLS, BROKER_TOKEN is sent as `authorization: Bearer …` on every call. Files are read in the init context.
const TLS_CA = __ENV.BROKER_TLS_CA;
const CLIENT_CERT = __ENV.BROKER_CLIENT_CERT;
/** The params of client.connect(). */
export const CONNECT = TLS_CA
  ? {
      plaintext: false,
      tls: {
        cacerts: [open(TLS_CA)],
        ...(CLIENT_CERT ? { cert: open(CLIENT_CERT), key: open(__ENV.BROKER_CLIENT_KEY) } : {}),
      },
    }
  : { plaintext: true };
/** The params of every call and stream (the token's metadata). */
export const CALL = __ENV.BROKER_TOKEN ? { metadata: { authorization: `Bearer ${__ENV.BROKER_TOKEN}` } } : {};

/** A client with broker.proto loaded (paths relative to this directory: run k6 from k6/). */
export function newClient() {
  const client = new grpc.Client();
  client.load(['../proto'], 'broker.proto');
  return client;
}

/** Connects a VU's client once (k6 keeps module state per VU). */
export function connectOnce(client, state) {
  if (!state.connected) {
    client.connect(ADDRESS, CONNECT);
    state.connected = true;
  }
}

/** Publishes once; returns the id, or 0 when the call failed (the caller's check then fails). */
export function publish(client, subject) {
  const res = client.invoke('broker.Broker/Publish', { subject, body: BODY, expirationSeconds: 0 }, CALL);
  return res && res.status === grpc.StatusOK ? Number(res.message.id) : 0;
}

/**
 * Subscribes for `seconds` (k6 streams cannot be cancelled; a deadline ends them with DEADLINE_EXCEEDED, which is
 * the expected end here). `onMessage(id)` runs per delivery; `onEnd(unexpectedError)` runs once at the end.
 */
export function subscribeFor(client, subject, fromId, seconds, onMessage, onEnd) {
  const stream = new grpc.Stream(client, 'broker.Broker/Subscribe', { timeout: `${seconds}s`, ...CALL });
  let ended = false;
  const finish = (err) => {
    if (ended) return;
    ended = true;
    onEnd(err);
  };
  stream.on('data', (m) => onMessage(Number(m.id)));
  stream.on('error', (e) => finish(e && e.code === grpc.StatusDeadlineExceeded ? undefined : e));
  stream.on('end', () => finish(undefined));
  stream.write({ subject, fromId });
  return stream;
}
