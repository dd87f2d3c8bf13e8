// A mixed load: publishers at a constant arrival rate, fetchers of ids that exist (tracked from publish responses),
// and live subscribers counting deliveries, all at once on one subject.
import { check } from 'k6';
import grpc from 'k6/net/grpc';
import { Counter } from 'k6/metrics';
import { CALL, connectOnce, newClient, publish, subscribeFor } from './lib.js';

const client = newClient();
const state = {};
const ids = [];
const delivered = new Counter('messages_delivered');
const DURATION = Number(__ENV.DURATION_SECONDS || 20);
const RATE = Number(__ENV.RATE || 500);
const SUBSCRIBERS = Number(__ENV.SUBSCRIBERS || 10);
const SUBJECT = 'k6.mixed';

export const options = {
  scenarios: {
    publish: { executor: 'constant-arrival-rate', rate: RATE, timeUnit: '1s', duration: `${DURATION}s`, preAllocatedVUs: 32, maxVUs: 128, exec: 'publisher', startTime: '1s' },
    fetch: { executor: 'constant-arrival-rate', rate: RATE, timeUnit: '1s', duration: `${DURATION}s`, preAllocatedVUs: 32, maxVUs: 128, exec: 'fetcher', startTime: '1s' },
    subscribe: { executor: 'per-vu-iterations', vus: SUBSCRIBERS, iterations: 1, exec: 'subscriber', maxDuration: `${DURATION + 10}s` },
  },
  thresholds: {
    checks: ['rate>0.999'],
    'grpc_req_duration{scenario:publish}': ['p(95)<50', 'p(99)<250'],
    'grpc_req_duration{scenario:fetch}': ['p(95)<50', 'p(99)<250'],
    // Every subscriber should see (nearly) every message published while it was open.
    messages_delivered: [`count>=${Math.floor(RATE * DURATION * SUBSCRIBERS * 0.95)}`],
    dropped_iterations: [`count<${Math.ceil(RATE * DURATION * 0.01)}`],
  },
};

export function publisher() {
  connectOnce(client, state);
  check(publish(client, SUBJECT), { 'publish is OK': (id) => id > 0 });
}

export function fetcher() {
  connectOnce(client, state);
  if (ids.length < 20) {
    const id = publish(client, SUBJECT);
    check(id, { 'publish is OK': (v) => v > 0 });
    if (id > 0) ids.push(id);
    return;
  }
  const id = ids[Math.floor(Math.random() * ids.length)];
  const res = client.invoke('broker.Broker/Fetch', { subject: SUBJECT, id }, CALL);
  check(res, { 'fetch is OK with the id asked for': (r) => r && r.status === grpc.StatusOK && Number(r.message.id) === id });
}

export function subscriber() {
  connectOnce(client, state);
  let last = 0;
  let inOrder = true;
  subscribeFor(client, SUBJECT, 0, DURATION + 3, (id) => {
    if (last !== 0 && id !== last + 1) inOrder = false;
    last = id;
    delivered.add(1);
  }, (err) => {
    check(err, { 'stream ends only at its deadline': (e) => e === undefined });
    check(inOrder, { 'live delivery in id order with no gap': (v) => v });
  });
}
