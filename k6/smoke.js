// The CI smoke test (~20 s): a constant publish rate, fetches of published ids (and of one that was never
// published), and replaying subscribers, with strict checks and thresholds on errors and latency.
import { check } from 'k6';
import grpc from 'k6/net/grpc';
import { Counter } from 'k6/metrics';
import { CALL, connectOnce, newClient, publish, subscribeFor } from './lib.js';

const client = newClient();
const state = {};
const ids = [];
const delivered = new Counter('messages_delivered');
const SECONDS = 15;
const PUBLISH_RATE = 200;

export const options = {
  scenarios: {
    publish: { executor: 'constant-arrival-rate', rate: PUBLISH_RATE, timeUnit: '1s', duration: `${SECONDS}s`, preAllocatedVUs: 40, maxVUs: 80, exec: 'publisher' },
    fetch: { executor: 'constant-arrival-rate', rate: 100, timeUnit: '1s', duration: `${SECONDS}s`, preAllocatedVUs: 20, maxVUs: 40, exec: 'fetcher' },
    subscribe: { executor: 'per-vu-iterations', vus: 4, iterations: 1, exec: 'subscriber', maxDuration: `${SECONDS + 10}s` },
  },
  thresholds: {
    checks: ['rate==1'],
    // Loose on purpose: CI shares 2 cores with the broker and k6; the smoke catches broken calls and gross stalls.
    grpc_req_duration: ['p(95)<250', 'p(99)<1000'],
    // Replaying from id 1 for the whole run: each of the 4 subscribers sees nearly everything 'publish' sent.
    messages_delivered: [`count>=${Math.floor(4 * PUBLISH_RATE * SECONDS * 0.9)}`],
    // Open model: an iteration k6 could not start on time counts against the broker (at most 5%).
    dropped_iterations: [`count<${Math.floor((PUBLISH_RATE + 100) * SECONDS * 0.05)}`],
  },
};

export function publisher() {
  connectOnce(client, state);
  check(publish(client, 'k6.smoke'), { 'publish is OK': (id) => id > 0 });
}

export function fetcher() {
  connectOnce(client, state);
  if (ids.length < 10) {
    const id = publish(client, `k6.smoke.${__VU}`);
    check(id, { 'publish is OK': (v) => v > 0 });
    if (id > 0) ids.push(id);
    return;
  }
  const id = ids[__ITER % ids.length];
  const res = client.invoke('broker.Broker/Fetch', { subject: `k6.smoke.${__VU}`, id }, CALL);
  check(res, { 'fetch returns the published id': (r) => r && r.status === grpc.StatusOK && Number(r.message.id) === id });
  const missing = client.invoke('broker.Broker/Fetch', { subject: `k6.smoke.${__VU}`, id: 1000000 }, CALL);
  check(missing, { 'fetch of an unpublished id is INVALID_ARGUMENT': (r) => r && r.status === grpc.StatusInvalidArgument });
}

export function subscriber() {
  connectOnce(client, state);
  let last = 0;
  let inOrder = true;
  subscribeFor(client, 'k6.smoke', 1, SECONDS + 3, (id) => {
    if (id !== last + 1) inOrder = false;
    last = id;
    delivered.add(1);
  }, (err) => {
    check(err, { 'stream ends only at its deadline': (e) => e === undefined });
    check(inOrder, { 'delivered in id order from 1 with no gap or duplicate': (v) => v });
  });
}
