import { credentials, type ServiceError } from '@grpc/grpc-js';
import { BrokerClient } from '../../proto/gen/broker.js';

/** A broker.Broker client for the CLI (insecure channel, as the broker serves plaintext). */
export function connect(address: string): BrokerClient {
  return new BrokerClient(address, credentials.createInsecure(), {
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
  });
}

/** Calls a unary method as a promise: unary((done) => client.publish(request, done)). */
export function unary<Res>(start: (done: (err: ServiceError | null, res: Res) => void) => unknown): Promise<Res> {
  return new Promise((resolve, reject) => {
    start((err, res) => (err ? reject(err) : resolve(res)));
  });
}
