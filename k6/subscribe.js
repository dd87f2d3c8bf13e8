// Subscribe streams with delivery counting: SUBSCRIBERS streams replay a subject from id 1 while a publisher feeds
// it MESSAGES messages from 4 VUs; each subscriber must see ids 1..MESSAGES in order, with no gap and no duplicate.
import { check } from 'k6';
import { Counter } from 'k6/metrics';
import { connectOnce, newClient, publish, subscribeFor } from './lib.js';

const client = newClient();
const state = {};
const delivered = new Counter('messages_delivered');
const MESSAGES = Number(__ENV.MESSAGES || 1000);
const SUBSCRIBERS = Number(__ENV.SUBSCRIBERS || 20);
// A generous bound on the publishing time (4 VUs publish far faster than 100/s); streams end at their deadline.
const publishSeconds = Math.ceil(MESSAGES / 100);

export const options = {
  scenarios: {
    publisher: { executor: 'shared-iterations', vus: 4, iterations: MESSAGES, exec: 'publisher', maxDuration: `${publishSeconds + 30}s`, startTime: '1s' },
    subscribers: { executor: 'per-vu-iterations', vus: SUBSCRIBERS, iterations: 1, exec: 'subscriber', maxDuration: `${publishSeconds + 40}s` },
  },
  thresholds: {
    checks: ['rate==1'],
    messages_delivered: [`count>=${MESSAGES * SUBSCRIBERS}`],
    'grpc_req_duration{scenario:publisher}': ['p(95)<100', 'p(99)<250'],
  },
};


// One fresh subject per run, shared by every VU through setup()'s return value.
export function setup() {
  return { subject: `k6.subscribe.${Date.now()}` };
}

export function publisher(data) {
  connectOnce(client, state);
  check(publish(client, data.subject), { 'publish is OK': (id) => id > 0 });
}

export function subscriber(data) {
  connectOnce(client, state);
  let last = 0;
  let inOrder = true;
  subscribeFor(client, data.subject, 1, publishSeconds + 20, (id) => {
    if (id !== last + 1) inOrder = false;
    last = id;
    delivered.add(1);
  }, (err) => {
    check(err, { 'stream ends only at its deadline': (e) => e === undefined });
    check(inOrder, { 'delivered in id order with no gap or duplicate': (v) => v });
    check(last, { 'every published message delivered': (v) => v === MESSAGES });
  });
}
