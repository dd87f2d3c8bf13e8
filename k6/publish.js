// Publish throughput: a constant and then a ramping arrival rate (open model: k6 starts calls on schedule).
import { check } from 'k6';
import grpc from 'k6/net/grpc';
import { ADDRESS, BODY, CALL, CONNECT, newClient } from './lib.js';

const client = newClient();
const RATE = Number(__ENV.RATE || 2000);
const STAGE = __ENV.STAGE || '15s';

export const options = {
  scenarios: {
    constant: { executor: 'constant-arrival-rate', rate: RATE, timeUnit: '1s', duration: __ENV.DURATION || '30s', preAllocatedVUs: 64, maxVUs: 256 },
    ramping: {
      executor: 'ramping-arrival-rate', startTime: __ENV.DURATION || '30s', startRate: RATE / 4, timeUnit: '1s', preAllocatedVUs: 64, maxVUs: 256,
      stages: [{ target: RATE, duration: STAGE }, { target: RATE * 2, duration: STAGE }, { target: 0, duration: '5s' }],
    },
  },
  thresholds: {
    checks: ['rate>0.999'],
    'grpc_req_duration{scenario:constant}': ['p(95)<50', 'p(99)<200'],
    'grpc_req_duration{scenario:ramping}': ['p(95)<100', 'p(99)<500'],
    dropped_iterations: [`count<${RATE}`],
  },
};

export default function () {
  if (__ITER === 0) client.connect(ADDRESS, CONNECT);
  const res = client.invoke('broker.Broker/Publish', { subject: `k6.publish.${__VU % 8}`, body: BODY, expirationSeconds: 0 }, CALL);
  check(res, { 'publish is OK': (r) => r && r.status === grpc.StatusOK && Number(r.message.id) > 0 });
}
