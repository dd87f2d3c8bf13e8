import { credentials } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BrokerClient } from '../../proto/gen/broker.js';
import { randomName, testCqlContactPoints, testCqlLocalDc } from '../../test-support/services.js';
import {
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
const WORKERS = 2;
/** Connections per member: node:cluster hands them to its workers in turn, so every worker gets calls. */
const CLIENTS_PER_MEMBER = 2 * WORKERS;
const OWNER = /^m[12]\/w[01]$/;

/** A client on a connection of its own (no shared subchannel), so the member's next worker takes it. */
function clientOf(broker: BrokerProcess, n: number): BrokerClient {
  return new BrokerClient(broker.address, credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
    'grpc.primary_user_agent': `c${n}`,
  });
}

/** Retries a call that a partition between owners answers UNAVAILABLE, or a member answers NOT_OWNER mid-move. */
const retrying = <T>(call: () => Promise<T>, timeoutMs = 6 * LEASE_MS): Promise<T> =>
  retryingWhile([14, 9], timeoutMs, call);

/** The sum of a metric's series of one worker (`worker="<i>"` among its labels). */
function workerValue(text: string, name: string, worker: number, labels = ''): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) && l.includes(`worker="${worker}"`) && l.includes(labels))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}

function startMember(cluster: string, id: string): Promise<BrokerProcess> {
  return startBrokerProcess({
    BROKER_WORKERS: String(WORKERS),
    BROKER_CLUSTER: cluster,
    BROKER_ID: id,
    // 16 partitions: rendezvous placement gives each of the four workers some (m1/w1 the most).
    BROKER_PARTITIONS: '16',
    BROKER_LEASE: `${LEASE_MS / 1000}s`,
    BROKER_MAX_CLOCK_DRIFT: '200ms',
    BROKER_ACKS: 'replicated',
    SCYLLA_CONTACT_POINTS: testCqlContactPoints().join(','),
    SCYLLA_LOCAL_DC: testCqlLocalDc(),
    SCYLLA_KEYSPACE: KEYSPACE,
  });
}

/** Waits until every worker of every member has acquired partitions (placement hands each its share). */
async function settled(members: readonly BrokerProcess[]): Promise<void> {
  const deadline = Date.now() + 10 * LEASE_MS;
  for (;;) {
    const acquired = await Promise.all(
      members.flatMap((m) =>
        Array.from({ length: WORKERS }, async (_, w) =>
          workerValue(await m.metrics(), 'broker_partition_moves_total', w, 'event="acquired"'),
        ),
      ),
    );
    if (acquired.every((n) => n > 0)) return;
    if (Date.now() > deadline) throw new Error(`the cluster did not settle: acquired ${acquired.join(', ')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('a cluster of two members with two workers each (every worker a member: <BROKER_ID>/w<i>)', () => {
  const cluster = randomName('w');
  let members: BrokerProcess[] = [];
  const clients: BrokerClient[][] = [];
  const all = (): BrokerClient[] => clients.flat();
  const subjects = Array.from({ length: 8 }, (_, i) => `${cluster}.s${i}`);
  before(async () => {
    members = await Promise.all(['m1', 'm2'].map((id) => startMember(cluster, id)));
    await settled(members);
    for (const m of members) clients.push(Array.from({ length: CLIENTS_PER_MEMBER }, (_, n) => clientOf(m, n)));
  });
  after(async () => {
    for (const c of all()) c.close();
    for (const m of members) await m.dispose();
  });

  it('serves every call through every worker: dense ids, read back through every other, owner names a worker', async () => {
    const everyClient = all();
    for (const [i, subject] of subjects.entries()) {
      for (let n = 1; n <= 3; n++) {
        const via = everyClient[(i + n) % everyClient.length] as BrokerClient;
        assert.equal(await retrying(() => publish(via, subject, `${subject}#${n}`)), n, `${subject}: ids dense`);
      }
    }
    const owners = new Set<string>();
    for (const subject of subjects) {
      for (const c of everyClient) {
        for (let n = 1; n <= 3; n++) {
          assert.equal((await retrying(() => fetchMessage(c, subject, n))).body.toString(), `${subject}#${n}`);
        }
      }
      const info = await retrying(() => getSubject(everyClient[0] as BrokerClient, subject));
      assert.match(info.owner, OWNER);
      assert.equal(info.lastId, 3);
      owners.add(info.owner);
    }
    assert.ok(owners.size >= 3, `the subjects are spread over the workers of both members: ${[...owners].join(', ')}`);
    for (const m of members) {
      const text = await m.metrics();
      for (let w = 0; w < WORKERS; w++) {
        assert.ok(workerValue(text, 'method_count', w, 'method="Publish"') > 0, `worker ${w} served publishes`);
      }
    }
    // A subscriber on one member's workers, of subjects placed anywhere, replays and follows.
    const sub = await retrying(() => subscribe(clients[1]?.[0] as BrokerClient, subjects[0] as string, 1));
    await retrying(() => publish(clients[0]?.[1] as BrokerClient, subjects[0] as string, 'live'));
    const got = await sub.waitFor(4);
    sub.stream.cancel();
    assert.deepEqual(
      got.map((m) => m.id),
      [1, 2, 3, 4],
    );
  });

  it('a member stopped (SIGTERM) hands its workers’ partitions over: ids continue densely; it rejoins on an empty disk', async () => {
    const survivors = clients[0] as BrokerClient[];
    assert.equal(await (members[1] as BrokerProcess).stop(), 0);
    for (const [i, subject] of subjects.entries()) {
      const via = survivors[i % survivors.length] as BrokerClient;
      const last = (await retrying(() => getSubject(via, subject))).lastId;
      // The hand-over settled the id reservations: the next id is the next one, no gap, none reissued.
      assert.equal(await retrying(() => publish(via, subject, 'after the stop')), last + 1, `${subject}: dense`);
      assert.match((await retrying(() => getSubject(via, subject))).owner, /^m1\/w[01]$/);
    }
    // The member comes back on an empty data dir (a new pod): placement gives its workers their share again, and
    // they serve what was acked on the others (the cold tier) and continue the ids.
    for (const c of clients[1] ?? []) c.close();
    members[1] = await startMember(cluster, 'm2');
    await settled(members);
    clients[1] = Array.from({ length: CLIENTS_PER_MEMBER }, (_, n) => clientOf(members[1] as BrokerProcess, n));
    for (const [i, subject] of subjects.entries()) {
      const via = (clients[1] as BrokerClient[])[i % CLIENTS_PER_MEMBER] as BrokerClient;
      const { lastId } = await retrying(() => getSubject(via, subject));
      assert.equal((await retrying(() => fetchMessage(via, subject, lastId))).body.toString(), 'after the stop');
      assert.ok((await retrying(() => publish(via, subject, 'rejoined'))) > lastId, `${subject}: id reissued`);
    }
  });

  it('kill -9 of a member: its workers’ partitions move within the lease, every acked record stays readable, no id reused', async (t) => {
    const acked = new Map<string, Map<number, string>>(subjects.map((s) => [s, new Map()]));
    const everyClient = all();
    await Promise.all(
      subjects.flatMap((subject, i) =>
        Array.from({ length: 6 }, async (_, n) => {
          const body = `${subject}@${n}`;
          const id = await retrying(() =>
            publish(everyClient[(i + n) % everyClient.length] as BrokerClient, subject, body),
          );
          acked.get(subject)?.set(id, body);
        }),
      ),
    );
    const survivors = clients[0] as BrokerClient[];
    const victims = new Set<string>();
    for (const subject of subjects) {
      const { owner } = await retrying(() => getSubject(survivors[0] as BrokerClient, subject));
      if (owner.startsWith('m2/')) victims.add(subject);
    }
    assert.ok(victims.size > 0, 'the killed member owns some of the subjects');
    const killedAt = Date.now();
    await (members[1] as BrokerProcess).stop('SIGKILL');
    let movedAfterMs = 0;
    for (const [i, subject] of subjects.entries()) {
      const via = survivors[i % survivors.length] as BrokerClient;
      const last = Math.max(0, ...(acked.get(subject)?.keys() ?? []));
      const next = await retrying(() => publish(via, subject, 'after the kill'));
      movedAfterMs = Math.max(movedAfterMs, Date.now() - killedAt);
      assert.ok(next > last, `${subject}: id ${next} reissued (acked up to ${last})`);
      for (const [id, body] of acked.get(subject) ?? []) {
        for (const c of survivors)
          assert.equal((await retrying(() => fetchMessage(c, subject, id))).body.toString(), body);
      }
      assert.match((await retrying(() => getSubject(via, subject))).owner, /^m1\/w[01]$/);
    }
    assert.ok(movedAfterMs < 4 * LEASE_MS, `partitions took ${movedAfterMs} ms to move`);
    t.diagnostic(
      `${victims.size} of ${subjects.length} subjects were on the killed member; moved ${movedAfterMs} ms after the kill`,
    );
  });
});
