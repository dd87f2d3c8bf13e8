// Fan-out under load (issue 12, the seed's "10K concurrent users"): SUBSCRIBERS Subscribe streams, each on its own
// connection (one grpc.Client is one HTTP/2 connection, so with BROKER_WORKERS > 1 node:cluster spreads them over the
// workers), over SUBJECTS fresh subjects, while one publisher per subject publishes RATE msg/s in all for DURATION s.
// Every body starts with its publish time (13 digits, ms), so each delivery's latency goes into `delivery_latency`.
// Every subscriber must see ids 1..MESSAGES of its subject in order, no gap, no duplicate (thresholds below).
// A VU holds STREAMS_PER_VU streams (k6 VUs cost memory: 10,000 VUs do not fit where 10,000 streams do).
// Run through k6/fanout.sh (npm run k6:fanout), which starts the broker and reports its RSS per process.
import { check, sleep } from 'k6';
import encoding from 'k6/encoding';
import exec from 'k6/execution';
import grpc from 'k6/net/grpc';
import { Counter, Gauge, Trend } from 'k6/metrics';
import { ADDRESS, CALL, CONNECT } from './lib.js';

const SUBSCRIBERS = Number(__ENV.SUBSCRIBERS || 300);
const SUBJECTS = Number(__ENV.SUBJECTS || 10);
const RATE = Number(__ENV.RATE || 50);
const DURATION = Number(__ENV.DURATION || 20);
const STREAMS_PER_VU = Number(__ENV.STREAMS_PER_VU || (SUBSCRIBERS > 1000 ? 50 : 1));
const PAYLOAD_BYTES = Math.max(16, Number(__ENV.PAYLOAD_BYTES || 128));
// Seconds the subscribers get to connect before publishing starts, and after DURATION for the rest: a subscriber
// ends as soon as it has its last id, so GRACE only bounds a run whose publishing or delivery falls behind.
const SETTLE = Number(__ENV.SETTLE || 5 + Math.ceil(SUBSCRIBERS / 500));
const GRACE = Number(__ENV.GRACE || 30 + Math.ceil(SUBSCRIBERS / 250));
// Every subject gets the same count, so each subscriber knows its last id in advance.
const MESSAGES = Math.max(1, Math.round((RATE * DURATION) / SUBJECTS));
const SUBSCRIBER_VUS = Math.ceil(SUBSCRIBERS / STREAMS_PER_VU);
const PADDING = '.'.repeat(PAYLOAD_BYTES - 13);

const latency = new Trend('delivery_latency', true);
// Publish calls alone (grpc_req_duration mixes them with the streams' whole lifetimes).
const publishLatency = new Trend('publish_latency', true);
const delivered = new Counter('messages_delivered');
const published = new Counter('messages_published');
const complete = new Counter('subscribers_complete');
const late = new Counter('subscribers_late');
const expected = new Gauge('deliveries_expected');
const target = new Gauge('subscribers_target');

export const options = {
  setupTimeout: '60s',
  summaryTrendStats: ['avg', 'min', 'med', 'p(50)', 'p(90)', 'p(99)', 'max'],
  scenarios: {
    subscribers: {
      executor: 'per-vu-iterations',
      vus: SUBSCRIBER_VUS,
      iterations: 1,
      exec: 'subscribers',
      maxDuration: `${SETTLE + DURATION + GRACE + 60}s`,
    },
    publishers: {
      executor: 'per-vu-iterations',
      vus: SUBJECTS,
      iterations: 1,
      exec: 'publisher',
      startTime: `${SETTLE}s`,
      maxDuration: `${DURATION + GRACE}s`,
    },
  },
  thresholds: {
    checks: ['rate==1'],
    messages_published: [`count==${MESSAGES * SUBJECTS}`],
    messages_delivered: [`count==${MESSAGES * SUBSCRIBERS}`],
    subscribers_complete: [`count==${SUBSCRIBERS}`],
    // A stream opened after publishing began gets replays, whose latency is not a delivery's: SETTLE is too short.
    subscribers_late: ['count==0'],
  },
};

// One client (connection) per stream this VU may hold; load() is only allowed here, in the init context.
const clients = [];
for (let i = 0; i < STREAMS_PER_VU; i++) {
  const client = new grpc.Client();
  client.load(['../proto'], 'broker.proto');
  clients.push(client);
}

export function setup() {
  expected.add(MESSAGES * SUBSCRIBERS);
  target.add(SUBSCRIBERS);
  // Publishing starts SETTLE s after the scenarios do (setup runs just before them).
  return { run: `k6.fanout.${Date.now()}`, publishAt: Date.now() + SETTLE * 1000 };
}

const subjectOf = (data, n) => `${data.run}.${n}`;

/** The publish time at the start of a body (base64: 20 characters are 15 bytes, of which 13 are the digits). */
const publishedAt = (body) => Number(encoding.b64decode(body.slice(0, 20), 'std', 's').slice(0, 13));

export function subscribers(data) {
  const first = exec.scenario.iterationInTest * STREAMS_PER_VU;
  const endAt = data.publishAt + (DURATION + GRACE) * 1000;
  for (let k = 0; k < STREAMS_PER_VU && first + k < SUBSCRIBERS; k++) {
    const client = clients[k];
    client.connect(ADDRESS, { ...CONNECT, timeout: '60s' });
    if (Date.now() >= data.publishAt) late.add(1);
    subscribe(client, subjectOf(data, (first + k) % SUBJECTS), endAt);
  }
}

/**
 * One stream from id 1 until its last id (then its connection is closed: k6 cannot cancel a stream), or endAt at the
 * latest (a deadline, DEADLINE_EXCEEDED; the subscriber then misses messages and fails its checks).
 */
function subscribe(client, subject, endAt) {
  const timeout = `${Math.max(1, endAt - Date.now())}ms`;
  const stream = new grpc.Stream(client, 'broker.Broker/Subscribe', { timeout, ...CALL });
  let last = 0;
  let inOrder = true;
  let ended = false;
  const finish = (err) => {
    if (ended) return;
    ended = true;
    delivered.add(last);
    const ok = check(err, { 'stream has no error': (e) => e === undefined });
    const ordered = check(inOrder, { 'ids in order from 1, no gap or duplicate': (v) => v });
    const all = check(last, { 'every published message delivered': (v) => v === MESSAGES });
    if (ok && ordered && all) complete.add(1);
    client.close();
  };
  stream.on('data', (m) => {
    if (ended) return;
    const now = Date.now();
    const id = Number(m.id);
    if (id !== last + 1) inOrder = false;
    last = id;
    latency.add(now - publishedAt(m.body));
    if (id === MESSAGES) finish(undefined);
  });
  stream.on('error', (e) => finish(e && e.code === grpc.StatusDeadlineExceeded ? undefined : e));
  stream.on('end', () => finish(undefined));
  stream.write({ subject, fromId: 1 });
}

// One publisher per subject, MESSAGES paced publishes at RATE / SUBJECTS msg/s, staggered across subjects.
export function publisher(data) {
  const n = exec.scenario.iterationInTest;
  const client = clients[0];
  client.connect(ADDRESS, { ...CONNECT, timeout: '60s' });
  const interval = (SUBJECTS / RATE) * 1000;
  const start = Date.now() + (n * interval) / SUBJECTS;
  for (let i = 1; i <= MESSAGES; i++) {
    const wait = start + (i - 1) * interval - Date.now();
    if (wait > 0) sleep(wait / 1000);
    const sent = Date.now();
    const body = encoding.b64encode(`${sent}${PADDING}`);
    const res = client.invoke('broker.Broker/Publish', { subject: subjectOf(data, n), body, expirationSeconds: 0 }, CALL);
    publishLatency.add(Date.now() - sent);
    const acked = (r) => r && r.status === grpc.StatusOK && Number(r.message.id) === i;
    if (check(res, { 'publish acked with the next id': acked })) published.add(1);
  }
}
