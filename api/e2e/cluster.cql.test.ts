import { credentials } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BrokerClient } from '../../proto/gen/broker.js';
import { randomName, testCqlContactPoints, testCqlLocalDc } from '../../test-support/services.js';
import {
  failure,
  metricValue,
  fetchMessage,
  publish,
  startBrokerProcess,
  subscribe,
  type BrokerProcess,
  getSubject,
  retryingWhile,
} from '../test-support/broker-process.js';

const KEYSPACE = 'broker_cluster_e2e';
const LEASE_MS = 3_000;

function clientOf(broker: BrokerProcess): BrokerClient {
  return new BrokerClient(broker.address, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
}

/** Retries a call that a partition between owners answers UNAVAILABLE (for at most a few leases). */
const retrying = <T>(call: () => Promise<T>, timeoutMs = 6 * LEASE_MS): Promise<T> =>
  retryingWhile([14], timeoutMs, call);

/**
 * Brokers of one cluster on loopback, sharing the test CQL server (the Scylla stand-in), once each holds partitions
 * (the first to start claims all of them; placement then hands each newcomer its share, a round or two later).
 */
async function startCluster(
  cluster: string,
  ids: readonly string[],
  env: Record<string, string> = {},
): Promise<BrokerProcess[]> {
  const brokers = await Promise.all(ids.map((id) => startMember(cluster, id, undefined, env)));
  const deadline = Date.now() + 10 * LEASE_MS;
  for (;;) {
    const acquired = await Promise.all(
      brokers.map(async (b) => metricValue(await b.metrics(), 'broker_partition_moves_total{event="acquired"}') ?? 0),
    );
    if (acquired.every((n) => n > 0)) return brokers;
    if (Date.now() > deadline)
      throw new Error(`the cluster did not settle: partitions acquired ${acquired.join(', ')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function startMember(
  cluster: string,
  id: string,
  dataDir?: string,
  env: Record<string, string> = {},
): Promise<BrokerProcess> {
  return startBrokerProcess(
    {
      BROKER_WORKERS: '1',
      BROKER_CLUSTER: cluster,
      BROKER_ID: id,
      BROKER_PARTITIONS: '8',
      BROKER_LEASE: `${LEASE_MS / 1000}s`,
      BROKER_MAX_CLOCK_DRIFT: '200ms',
      SCYLLA_CONTACT_POINTS: testCqlContactPoints().join(','),
      SCYLLA_LOCAL_DC: testCqlLocalDc(),
      SCYLLA_KEYSPACE: KEYSPACE,
      ...env,
    },
    dataDir,
  );
}

describe('a cluster of three brokers (BROKER_CLUSTER, ownership and id reservations on the CQL server)', () => {
  const cluster = randomName('c');
  let brokers: BrokerProcess[] = [];
  const clients: BrokerClient[] = [];
  const subjects = Array.from({ length: 12 }, (_, i) => `${cluster}.s${i}`);
  before(async () => {
    brokers = await startCluster(cluster, ['b1', 'b2', 'b3']);
    for (const b of brokers) clients.push(clientOf(b));
  });
  after(async () => {
    for (const c of clients) c.close();
    for (const b of brokers) await b.dispose();
  });
  const client = (i: number): BrokerClient => clients[i % clients.length] as BrokerClient;

  it('serves every call through any broker: publish on one, fetch, info and subscribe on the others', async () => {
    const subs = await Promise.all(subjects.slice(0, 3).map((s, i) => retrying(() => subscribe(client(i + 2), s, 1))));
    for (const [i, subject] of subjects.entries()) {
      for (let n = 1; n <= 3; n++)
        assert.equal(await retrying(() => publish(client(i), subject, `${subject}#${n}`)), n);
    }
    const owners = new Set<string>();
    for (const [i, subject] of subjects.entries()) {
      // Partitions may still be moving to their placed member (retriable UNAVAILABLE for that moment).
      assert.equal((await retrying(() => fetchMessage(client(i + 1), subject, 2))).body.toString(), `${subject}#2`);
      const info = await retrying(() => getSubject(client(i + 2), subject));
      assert.equal(info.lastId, 3);
      owners.add(info.owner);
    }
    assert.deepEqual([...owners].sort(), ['b1', 'b2', 'b3'], 'the partitions are spread over every member');
    for (const [i, sub] of subs.entries()) {
      // A stream whose partition moved off its member while the cluster settled resubscribes (followUntil).
      assert.deepEqual(await followUntil(sub, client(i + 2), subjects[i] as string, 3), [1, 2, 3]);
    }
  });

  it("moves a stopped member's partitions to the others: every acked record readable, ids continue densely", async () => {
    const leaving = brokers[2] as BrokerProcess;
    assert.equal(await leaving.stop(), 0);
    for (const [i, subject] of subjects.entries()) {
      const c = client(i % 2);
      for (let n = 1; n <= 3; n++) {
        assert.equal((await retrying(() => fetchMessage(c, subject, n))).body.toString(), `${subject}#${n}`);
      }
      const next = await retrying(() => publish(c, subject, 'after'));
      // The hand-over settled the reservations: dense, no gap of never-issued ids (DATA_LOSS) on the new owner.
      assert.equal(next, 4, `${subject}: id ${next} after 3 (reissued, or ids skipped)`);
      assert.notEqual((await getSubject(c, subject)).owner, 'b3');
    }
  });

  it('never reissues an id when a member is killed: its partitions move within the lease', async (t) => {
    const victim = brokers[1] as BrokerProcess;
    const before = new Map<string, number>();
    for (const subject of subjects) before.set(subject, (await retrying(() => getSubject(client(0), subject))).lastId);
    const killedAt = Date.now();
    await victim.stop('SIGKILL');
    let movedAfterMs = 0;
    for (const subject of subjects) {
      const id = await retrying(() => publish(client(0), subject, 'after the kill'));
      movedAfterMs = Math.max(movedAfterMs, Date.now() - killedAt);
      assert.ok(id > (before.get(subject) ?? 0), `${subject}: id ${id} is not above ${before.get(subject)}`);
    }
    assert.ok(movedAfterMs < 4 * LEASE_MS, `partitions took ${movedAfterMs} ms to move`);
    t.diagnostic(`every partition of the killed member took new publishes ${movedAfterMs} ms after the kill`);
  });
});

type Subscription = Awaited<ReturnType<typeof subscribe>>;

/** The ids a subscriber receives up to `last`, resubscribing from the next id whenever its stream ends UNAVAILABLE. */
async function followUntil(
  first: Subscription,
  client: BrokerClient,
  subject: string,
  last: number,
): Promise<number[]> {
  const ids: number[] = [];
  let sub = first;
  const deadline = Date.now() + 30_000;
  for (;;) {
    while ((sub.received.at(-1)?.id ?? 0) < last && sub.ended === undefined && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    ids.push(...sub.received.map((m) => m.id));
    sub.stream.cancel();
    const ended = sub.ended;
    const upTo = ids.at(-1) ?? 0;
    if (upTo >= last || Date.now() >= deadline) return ids;
    if (ended === undefined || ended === 'end' || ended.code !== 14) return ids;
    sub = await retrying(() => subscribe(client, subject, upTo + 1));
  }
}

describe('a cluster scaled 3 → 4 → 2 while publishing and subscribing', () => {
  it('loses nothing acknowledged, reissues no id and delivers nothing twice', async (t) => {
    const cluster = randomName('s');
    const brokers = await startCluster(cluster, ['b1', 'b2', 'b3']);
    const clients = brokers.map(clientOf);
    const subjects = Array.from({ length: 6 }, (_, i) => `${cluster}.s${i}`);
    try {
      const stable = clients[0] as BrokerClient;
      const subs = await Promise.all(subjects.map((s) => retrying(() => subscribe(stable, s, 1))));
      const acked = new Map<string, Map<number, string>>(subjects.map((s) => [s, new Map()]));
      let stop = false;
      const load = (async () => {
        for (let n = 0; !stop; n++) {
          const subject = subjects[n % subjects.length] as string;
          const body = `m${n}`;
          const id = await publish(stable, subject, body).catch(() => undefined);
          if (id === undefined) {
            await new Promise((r) => setTimeout(r, 50));
            continue;
          }
          const seen = acked.get(subject) as Map<number, string>;
          assert.equal(seen.get(id), undefined, `id ${id} of ${subject} acknowledged twice`);
          seen.set(id, body);
        }
      })();
      brokers.push(await startMember(cluster, 'b4'));
      await new Promise((r) => setTimeout(r, 2 * LEASE_MS));
      for (const leaving of [brokers[1], brokers[2]] as BrokerProcess[]) assert.equal(await leaving.stop(), 0);
      await new Promise((r) => setTimeout(r, 2 * LEASE_MS));
      stop = true;
      await load;
      const survivors = [stable, clientOf(brokers[3] as BrokerProcess)];
      let total = 0;
      for (const [i, subject] of subjects.entries()) {
        const seen = acked.get(subject) as Map<number, string>;
        total += seen.size;
        for (const [id, body] of seen) {
          const m = await retrying(() => fetchMessage(survivors[i % 2] as BrokerClient, subject, id));
          assert.equal(m.body.toString(), body, `${subject} #${id}`);
        }
        const sub = subs[i];
        if (sub === undefined) continue;
        // A stream whose partition left the member it is on ends UNAVAILABLE: resubscribe from the next id, as a
        // client does (README, Cluster), and keep what both streams delivered.
        const ids = await followUntil(sub, stable, subject, Math.max(...seen.keys()));
        assert.deepEqual(
          ids,
          [...new Set(ids)].sort((a, b) => a - b),
          `${subject}: delivered twice or out of order`,
        );
        for (const id of seen.keys()) assert.ok(ids.includes(id), `${subject}: acked id ${id} never delivered`);
      }
      t.diagnostic(`${total} publishes acknowledged across the scaling, every one readable and delivered once`);
      survivors[1]?.close();
    } finally {
      for (const c of clients) c.close();
      for (const b of brokers) await b.dispose();
    }
  });
});

describe('a member paused past its lease (a forced split view: it still believes it owns its partitions)', () => {
  it('appends nothing once it wakes: exactly one member appends to a partition, no id is acknowledged twice', async () => {
    const cluster = randomName('p');
    const brokers = await startCluster(cluster, ['b1', 'b2']);
    const [c1, c2] = brokers.map(clientOf) as [BrokerClient, BrokerClient];
    try {
      // A subject the member to be paused (b2) owns.
      let subject = '';
      for (let i = 0; subject === ''; i++) {
        const s = `${cluster}.s${i}`;
        await retrying(() => publish(c1, s, 'first'));
        if ((await retrying(() => getSubject(c1, s))).owner === 'b2') subject = s;
      }
      const paused = brokers[1] as BrokerProcess;
      const pid = paused.child.pid as number;
      process.kill(pid, 'SIGSTOP');
      const ids = new Map<number, string>();
      // b1 takes the partition after b2's lease + drift, and appends.
      for (let n = 0; n < 5; n++) ids.set(await retrying(() => publish(c1, subject, `b1-${n}`)), `b1-${n}`);
      process.kill(pid, 'SIGCONT');
      // Woken, b2 may still hold the partition in memory for a moment, but its lease has ended by its own clock: it
      // appends nothing (NOT_OWNER, or it forwards to b1 once it has seen the new owner).
      for (let n = 0; n < 5; n++) {
        const id = await retrying(() => publish(c2, subject, `b2-${n}`)).catch((err: unknown) => {
          assert.equal(failure(err).reason, 'NOT_OWNER', `refused only as NOT_OWNER: ${failure(err).message}`);
          return undefined;
        });
        if (id === undefined) continue;
        assert.equal(ids.get(id), undefined, `id ${id} acknowledged twice`);
        ids.set(id, `b2-${n}`);
      }
      // Placement may hand the partition back to b2 once b1 sees it live again: legitimately, after b1's last append.
      for (const [id, body] of ids) {
        assert.equal((await retrying(() => fetchMessage(c1, subject, id))).body.toString(), body);
      }
    } finally {
      c1.close();
      c2.close();
      for (const b of brokers) await b.dispose();
    }
  });
});

/** As retrying, and also past NOT_OWNER (a call that reached a member while placement still moved partitions). */
async function retryingMoves<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await retrying(call);
    } catch (err) {
      if (failure(err).code !== 9 || attempt >= 20) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

describe('a cluster with BROKER_ACKS=replicated (every commit in the CQL server before its ack)', () => {
  it("serves every acked record of a killed member through the others, its open segments' too", async (t) => {
    const cluster = randomName('r');
    const brokers = await startCluster(cluster, ['r1', 'r2', 'r3'], { BROKER_ACKS: 'replicated' });
    const clients = brokers.map(clientOf);
    const client = (i: number): BrokerClient => clients[i % clients.length] as BrokerClient;
    try {
      const subjects = Array.from({ length: 8 }, (_, i) => `${cluster}.s${i}`);
      // Published concurrently through every member (most forwarded to the owner); killed right after the acks.
      const acked = new Map<string, Map<number, string>>(subjects.map((s) => [s, new Map()]));
      await Promise.all(
        subjects.flatMap((subject, i) =>
          Array.from({ length: 10 }, async (_, n) => {
            const body = `${subject}#${n}`;
            const id = await retryingMoves(() => publish(client(i + n), subject, body));
            acked.get(subject)?.set(id, body);
          }),
        ),
      );
      const victim = brokers[1] as BrokerProcess;
      const owned = [];
      for (const subject of subjects)
        if ((await retryingMoves(() => getSubject(client(0), subject))).owner === 'r2') owned.push(subject);
      assert.ok(owned.length > 0, 'the victim owns some of the subjects');
      await victim.stop('SIGKILL');
      for (const [subject, records] of acked) {
        for (const [id, body] of records) {
          const found = await retrying(() => fetchMessage(client(2), subject, id));
          assert.equal(found.body.toString(), body, `${subject}@${id}`);
        }
        // Through two members: the owner replays from its cold tier, the other pages from the owner (FetchRange).
        for (const c of [0, 2]) {
          const sub = await retrying(() => subscribe(client(c), subject, 1));
          const replayed = await sub.waitFor(records.size);
          sub.stream.cancel();
          assert.deepEqual(
            replayed.slice(0, records.size).map((m) => [m.id, m.body.toString()]),
            [...records].sort(([a], [b]) => a - b),
            `${subject}: a Subscribe from 1 through member ${c + 1} replays every acked record`,
          );
        }
        const next = await retrying(() => publish(client(2), subject, 'after the kill'));
        assert.ok(next > Math.max(...records.keys()), `${subject}: id ${next} reissued`);
      }
      t.diagnostic(
        `${owned.length} of ${subjects.length} subjects were the killed member's; every acked record served`,
      );
    } finally {
      for (const c of clients) c.close();
      for (const b of brokers) await b.dispose();
    }
  });
});
