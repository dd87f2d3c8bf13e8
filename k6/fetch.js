// Fetch of ids that exist: each VU publishes, remembers the ids it got back, and fetches among them.
import { check } from 'k6';
import grpc from 'k6/net/grpc';
import { ADDRESS, CALL, CONNECT, newClient, publish } from './lib.js';

const client = newClient();
const ids = [];

export const options = {
  scenarios: { fetch: { executor: 'constant-arrival-rate', rate: Number(__ENV.RATE || 2000), timeUnit: '1s', duration: __ENV.DURATION || '30s', preAllocatedVUs: 64, maxVUs: 256 } },
  thresholds: { checks: ['rate>0.999'], grpc_req_duration: ['p(95)<50', 'p(99)<200'], dropped_iterations: [`count<${Number(__ENV.RATE || 2000)}`] },
};

export default function () {
  const subject = `k6.fetch.${__VU}`;
  if (__ITER === 0) client.connect(ADDRESS, CONNECT);
  if (ids.length < 50) {
    const id = publish(client, subject);
    check(id, { 'publish is OK': (v) => v > 0 });
    if (id > 0) ids.push(id);
    return;
  }
  const id = ids[Math.floor(Math.random() * ids.length)];
  const res = client.invoke('broker.Broker/Fetch', { subject, id }, CALL);
  check(res, { 'fetch is OK with the right id': (r) => r && r.status === grpc.StatusOK && Number(r.message.id) === id });
}
