import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BrokerClient, type MessageResponse, type SubjectInfo } from '../../proto/gen/broker.js';
import { randomName, testCqlContactPoints, testCqlLocalDc } from '../../test-support/services.js';
import { failure, fetchMessage, startBrokerProcess, type BrokerProcess } from '../test-support/broker-process.js';

const LEASE_MS = 3_000;
const DRIFT_MS = 200;
const UNAVAILABLE = 14;
const DEADLINE_EXCEEDED = 4;

function clientOf(broker: BrokerProcess): BrokerClient {
  return new BrokerClient(broker.address, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
}

const within = (ms: number) => ({ deadline: Date.now() + ms });

function getSubject(client: BrokerClient, subject: string, ms = 5_000): Promise<SubjectInfo> {
  return new Promise((resolve, reject) =>
    client.getSubject({ subject }, new Metadata(), within(ms), (err, res) => (err ? reject(err) : resolve(res))),
  );
}

function publish(client: BrokerClient, subject: string, body: string, ms = 5_000): Promise<number> {
  return new Promise((resolve, reject) =>
    client.publish(
      { subject, body: Buffer.from(body), expirationSeconds: 0 },
      new Metadata(),
      within(ms),
      (err: ServiceError | null, res) => (err ? reject(err) : resolve(res.id)),
    ),
  );
}

/**
 * A connection that worker 1 serves, while worker 0 is frozen: node:cluster's primary hands each new connection to
 * the next free worker, and a frozen worker, holding the one it was handed, is never free again, so of a few fresh
 * connections (each its own, 'grpc.use_local_subchannel_pool') at most the first hangs. Four at a time, up to 16.
 */
async function onLiveWorker(broker: BrokerProcess, probe: string, opened: BrokerClient[]): Promise<BrokerClient> {
  for (let round = 0; round < 4; round++) {
    const fresh = [0, 1, 2, 3].map(() => clientOf(broker));
    opened.push(...fresh);
    // The first to answer: the calls through it start while the frozen worker's lease still runs.
    const live = await Promise.any(fresh.map((c) => getSubject(c, probe, 2_000).then(() => c))).catch(() => undefined);
    if (live !== undefined) return live;
  }
  throw new Error('none of 16 connections reached worker 1');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A subject each worker owns, by GetSubject (it names the owner of a subject that has records), seeding subjects
 * until both own one. A worker that joins a moment after its sibling gets its share of the partitions a lease round
 * or two later, handed over by the sibling (a loaded CI machine saw every seed land on w1; a quiet one froze w0 once
 * its chosen subject had already moved to w1, and no call failed at all): the owners are read afresh each pass, and
 * a choice stands once it held for a lease.
 */
async function subjectPerWorker(
  client: BrokerClient,
  cluster: string,
  seeds: Map<string, number>,
): Promise<Map<string, string>> {
  const deadline = Date.now() + 10 * LEASE_MS;
  for (;;) {
    const owners = new Map<string, string>();
    for (let i = 0; owners.size < 2 && i < 64; i++) {
      const subject = `${cluster}.s${i}`;
      if (!seeds.has(subject)) seeds.set(subject, await until('the seed', () => publish(client, subject, 'seed')));
      const { owner } = await getSubject(client, subject);
      if (!owners.has(owner)) owners.set(owner, subject);
    }
    if (owners.size === 2) {
      await sleep(LEASE_MS);
      const stayed = await Promise.all(
        [...owners].map(async ([owner, subject]) => (await getSubject(client, subject)).owner === owner),
      );
      if (stayed.every(Boolean)) return owners;
    }
    if (Date.now() > deadline) return owners;
    await sleep(LEASE_MS / 3);
  }
}

async function until<T>(what: string, attempt: () => Promise<T | undefined>, timeoutMs = 10 * LEASE_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await attempt().catch(() => undefined);
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

describe('a worker of a cluster member frozen past its lease while its sibling takes its partition (same disk)', () => {
  const cluster = randomName('pause');
  let broker: BrokerProcess;
  const clients: BrokerClient[] = [];
  before(async () => {
    broker = await startBrokerProcess({
      BROKER_WORKERS: '2',
      BROKER_CLUSTER: cluster,
      BROKER_ID: 'm1',
      BROKER_PARTITIONS: '16',
      BROKER_LEASE: `${LEASE_MS / 1000}s`,
      BROKER_MAX_CLOCK_DRIFT: `${DRIFT_MS}ms`,
      SCYLLA_CONTACT_POINTS: testCqlContactPoints().join(','),
      SCYLLA_LOCAL_DC: testCqlLocalDc(),
      SCYLLA_KEYSPACE: 'broker_cluster_e2e',
    });
    clients.push(clientOf(broker));
  });
  after(async () => {
    for (const c of clients) c.close();
    await broker.dispose();
  });

  it('answers UNAVAILABLE (never UNKNOWN, INTERNAL or FAILED_PRECONDITION) until the sibling opens it; nothing acked is lost, no id reused', async () => {
    const first = clients[0] as BrokerClient;
    const acked = new Map<number, string>();
    const seeds = new Map<string, number>();
    const owners = await subjectPerWorker(first, cluster, seeds);
    const frozenSeed = seeds.get(owners.get('m1/w0') ?? '');
    if (frozenSeed !== undefined) acked.set(frozenSeed, 'seed');
    const frozenSubject = owners.get('m1/w0');
    const probeSubject = owners.get('m1/w1');
    assert.ok(frozenSubject !== undefined && probeSubject !== undefined, `owners: ${[...owners.keys()].join(', ')}`);
    for (let n = 0; n < 5; n++) acked.set(await publish(first, frozenSubject, `before#${n}`), `before#${n}`);

    const pid = broker.workerPids().get(0);
    assert.ok(pid !== undefined, 'the primary logged worker 0');
    process.kill(pid, 'SIGSTOP');
    // The connections node:cluster gave to worker 1 still answer; worker 0's hang.
    const via = await onLiveWorker(broker, probeSubject, clients);

    const seen: Array<{ code: number; message: string }> = [];
    const readMs: number[] = [];
    const frozenUntil = Date.now() + 2 * LEASE_MS + 2 * DRIFT_MS;
    while (Date.now() < frozenUntil) {
      // A read meanwhile never answers as an empty partition would (INVALID_ID for an acked id), and, with no deadline
      // of its own, waits on the frozen owner only until its lease is over (it waited 15 s: the forwarding deadline).
      const [firstId] = acked.keys();
      const readAt = Date.now();
      await fetchMessage(via, frozenSubject, firstId ?? 1).catch((err: unknown) => seen.push(failure(err)));
      readMs.push(Date.now() - readAt);
      await publish(via, frozenSubject, 'while frozen', 1_500).then(
        (id) => acked.set(id, 'while frozen'),
        (err: unknown) => seen.push(failure(err)),
      );
      await sleep(200);
    }
    process.kill(pid, 'SIGCONT');
    const next = await until('a publish after the wake-up', () => publish(via, frozenSubject, 'after'));
    acked.set(next, 'after');

    assert.ok(Math.max(...readMs) < 2.5 * LEASE_MS, `reads through the sibling took ${readMs.join(', ')} ms`);
    const codes = new Set(seen.map((s) => s.code));
    for (const code of codes) assert.ok([UNAVAILABLE, DEADLINE_EXCEEDED].includes(code), JSON.stringify(seen));
    const locked = seen.filter((s) => s.code === UNAVAILABLE && /another process/.test(s.message));
    assert.ok(locked.length > 0, `the sibling said why it cannot open the partition: ${JSON.stringify(seen)}`);
    const ids = [...acked.keys()].sort((a, b) => a - b);
    assert.equal(new Set(ids).size, ids.length, 'no id acknowledged twice');
    for (const [id, body] of acked) {
      const got: MessageResponse = await until(`id ${id}`, () => fetchMessage(via, frozenSubject, id));
      assert.equal(got.body.toString(), body, `id ${id}`);
    }
    assert.ok(
      broker.logLines.some((l) => l.includes('"worker":0') && l.includes('partition lost')),
      'the frozen worker found its lease gone when it woke, and let the partition go',
    );
  });
});
