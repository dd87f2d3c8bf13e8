// Shared pieces of the k6 scripts: the client, the proto, payloads.
import grpc from 'k6/net/grpc';
import encoding from 'k6/encoding';

export const ADDRESS = __ENV.BROKER_ADDRESS || 'localhost:50051';
export const PAYLOAD_BYTES = Number(__ENV.PAYLOAD_BYTES || 1024);
export const BODY = encoding.b64encode('x'.repeat(PAYLOAD_BYTES));

export function newClient() {
  const client = new grpc.Client();
  client.load(['../proto'], 'broker.proto');
  return client;
}

/** Publishes once; returns the id, or 0 when the call failed (the caller's check fails it). */
export function publish(client, subject) {
  const res = client.invoke('broker.Broker/Publish', { subject, body: BODY, expirationSeconds: 0 });
  return res && res.status === grpc.StatusOK ? Number(res.message.id) : 0;
}
