// Subscribe streams with delivery counting: subscribers replay a subject from id 1 while a publisher feeds it.
import { check, sleep } from 'k6';
import grpc from 'k6/net/grpc';
import { Counter } from 'k6/metrics';
import { ADDRESS, newClient, publish } from './lib.js';

const client = newClient();
const delivered = new Counter('messages_delivered');
const PER_SUBSCRIBER = Number(__ENV.MESSAGES || 500);

export const options = {
  scenarios: {
    publisher: { executor: 'per-vu-iterations', vus: 1, iterations: PER_SUBSCRIBER, exec: 'publisher', maxDuration: '60s' },
    subscribers: { executor: 'per-vu-iterations', vus: Number(__ENV.SUBSCRIBERS || 20), iterations: 1, exec: 'subscriber', maxDuration: '60s' },
  },
  thresholds: { checks: ['rate>0.999'], messages_delivered: [`count>=${PER_SUBSCRIBER * Number(__ENV.SUBSCRIBERS || 20)}`] },
};

export function publisher() {
  if (__ITER === 0) client.connect(ADDRESS, { plaintext: true });
  check(publish(client, 'k6.subscribe'), { 'publish is OK': (id) => id > 0 });
}

export function subscriber() {
  client.connect(ADDRESS, { plaintext: true });
  const stream = new grpc.Stream(client, 'broker.Broker/Subscribe');
  let last = 0;
  let inOrder = true;
  stream.on('data', (m) => {
    const id = Number(m.id);
    if (id !== last + 1) inOrder = false;
    last = id;
    delivered.add(1);
    if (id >= PER_SUBSCRIBER) stream.end();
  });
  stream.on('error', (e) => check(e, { 'stream has no error': () => false }));
  stream.on('end', () => check(inOrder, { 'delivered in id order with no gap': (v) => v }));
  stream.write({ subject: 'k6.subscribe', fromId: 1 });
  sleep(0.1);
}
