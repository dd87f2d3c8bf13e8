// The CI smoke test: a short constant publish rate and fetches of published ids, with strict checks and thresholds.
import { check } from 'k6';
import grpc from 'k6/net/grpc';
import { ADDRESS, newClient, publish } from './lib.js';

const client = newClient();
const ids = [];

export const options = {
  scenarios: {
    publish: { executor: 'constant-arrival-rate', rate: 200, timeUnit: '1s', duration: '10s', preAllocatedVUs: 16, maxVUs: 64, exec: 'publisher' },
    fetch: { executor: 'constant-arrival-rate', rate: 100, timeUnit: '1s', duration: '10s', preAllocatedVUs: 8, maxVUs: 32, exec: 'fetcher' },
  },
  thresholds: { checks: ['rate==1'], grpc_req_duration: ['p(95)<100', 'p(99)<500'], iterations: ['count>2500'] },
};

export function publisher() {
  if (__ITER === 0) client.connect(ADDRESS, { plaintext: true });
  check(publish(client, 'k6.smoke'), { 'publish is OK': (id) => id > 0 });
}

export function fetcher() {
  if (__ITER === 0) client.connect(ADDRESS, { plaintext: true });
  if (ids.length < 10) {
    const id = publish(client, `k6.smoke.${__VU}`);
    check(id, { 'publish is OK': (v) => v > 0 });
    if (id > 0) ids.push(id);
    return;
  }
  const id = ids[__ITER % ids.length];
  const res = client.invoke('broker.Broker/Fetch', { subject: `k6.smoke.${__VU}`, id });
  check(res, { 'fetch returns the published id': (r) => r && r.status === grpc.StatusOK && Number(r.message.id) === id });
  const missing = client.invoke('broker.Broker/Fetch', { subject: `k6.smoke.${__VU}`, id: 1000000 });
  check(missing, { 'fetch of an unpublished id is INVALID_ARGUMENT': (r) => r && r.status === grpc.StatusInvalidArgument });
}
