// A mixed load: publishers, fetchers of published ids, and live subscribers at once.
import { check } from 'k6';
import grpc from 'k6/net/grpc';
import { ADDRESS, newClient, publish } from './lib.js';

const client = newClient();
const ids = [];

export const options = {
  scenarios: {
    publish: { executor: 'constant-arrival-rate', rate: Number(__ENV.RATE || 500), timeUnit: '1s', duration: __ENV.DURATION || '20s', preAllocatedVUs: 32, maxVUs: 128, exec: 'publisher' },
    fetch: { executor: 'constant-arrival-rate', rate: Number(__ENV.RATE || 500), timeUnit: '1s', duration: __ENV.DURATION || '20s', preAllocatedVUs: 32, maxVUs: 128, exec: 'fetcher' },
    subscribe: { executor: 'constant-vus', vus: 10, duration: __ENV.DURATION || '20s', exec: 'subscriber' },
  },
  thresholds: { checks: ['rate>0.999'], grpc_req_duration: ['p(95)<50', 'p(99)<250'] },
};

function connectOnce() {
  if (__ITER === 0) client.connect(ADDRESS, { plaintext: true });
}

export function publisher() {
  connectOnce();
  check(publish(client, 'k6.mixed'), { 'publish is OK': (id) => id > 0 });
}

export function fetcher() {
  connectOnce();
  if (ids.length === 0) {
    const id = publish(client, 'k6.mixed');
    if (id > 0) ids.push(id);
    return;
  }
  const id = ids[Math.floor(Math.random() * ids.length)];
  const res = client.invoke('broker.Broker/Fetch', { subject: 'k6.mixed', id });
  check(res, { 'fetch is OK': (r) => r && r.status === grpc.StatusOK });
}

export function subscriber() {
  connectOnce();
  const stream = new grpc.Stream(client, 'broker.Broker/Subscribe');
  stream.on('error', (e) => check(e, { 'stream ends only by us': (err) => err.code === grpc.StatusCancelled }));
  stream.write({ subject: 'k6.mixed', fromId: 0 });
}
