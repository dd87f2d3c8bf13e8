// Issue 13's recovery rows for a cluster with acks=replicated, under load: a member killed and restarted on a wiped
// data dir (same BROKER_ID, same address), and a forced split view (the owner frozen past its lease, then woken),
// read back through every member and, for the split view, straight from the cold tier's rows in the CQL server.
import { credentials } from '@grpc/grpc-js';
import cassandra from 'cassandra-driver';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { openLog } from '../../log/index.js';
import { TEST_LOG_DEFAULTS } from '../../log/test-support/temp-log.js';
import { BrokerClient, type MessageResponse } from '../../proto/gen/broker.js';
import { randomName, testCqlContactPoints, testCqlLocalDc } from '../../test-support/services.js';
import {
  failure,
  fetchMessage,
  metricValue,
  publish,
  startBrokerProcess,
  subscribe,
  type BrokerProcess,
  getSubject,
  retryingWhile,
} from '../test-support/broker-process.js';
import { longestGap } from '../test-support/ack-gaps.js';

const KEYSPACE = 'broker_cluster_e2e';
const LEASE_MS = 3_000;
const PARTITIONS = 8;
/**
 * The longest a killed member's subjects may take no publish: its lease + drift + a claimer's round is ~4.2 s, and
 * the entry holds a forwarded publish for up to a lease before answering UNAVAILABLE (then the publisher retries).
 */
const GAP_BOUND_MS = 3 * LEASE_MS;
/** BROKER_ID_RESERVATION of the split view's members. */
const RESERVATION = 1;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Subscription = Awaited<ReturnType<typeof subscribe>>;
interface Ack {
  readonly subject: string;
  readonly id: number;
  readonly body: string;
  /** performance.now() when the ack arrived. */
  readonly at: number;
}

function memberEnv(cluster: string, id: string, more: Record<string, string> = {}): Record<string, string> {
  return {
    BROKER_WORKERS: '1',
    BROKER_CLUSTER: cluster,
    BROKER_ID: id,
    BROKER_PARTITIONS: String(PARTITIONS),
    BROKER_ACKS: 'replicated',
    BROKER_LEASE: `${LEASE_MS / 1000}s`,
    BROKER_MAX_CLOCK_DRIFT: '500ms',
    SCYLLA_CONTACT_POINTS: testCqlContactPoints().join(','),
    SCYLLA_LOCAL_DC: testCqlLocalDc(),
    SCYLLA_KEYSPACE: KEYSPACE,
    ...more,
  };
}

async function acquiredSome(broker: BrokerProcess): Promise<boolean> {
  return (metricValue(await broker.metrics(), 'broker_partition_moves_total{event="acquired"}') ?? 0) > 0;
}

/** Members of one cluster on loopback, once each holds partitions (placement hands newcomers their share). */
async function startCluster(
  cluster: string,
  ids: readonly string[],
  more: Record<string, string> = {},
): Promise<BrokerProcess[]> {
  const brokers = await Promise.all(ids.map((id) => startBrokerProcess(memberEnv(cluster, id, more))));
  const deadline = Date.now() + 10 * LEASE_MS;
  while (!(await Promise.all(brokers.map(acquiredSome))).every(Boolean)) {
    if (Date.now() > deadline) {
      for (const b of brokers) await b.dispose();
      throw new Error('the cluster did not settle');
    }
    await sleep(250);
  }
  return brokers;
}

/** A client that reconnects within a second (grpc-js backs off up to 120 s): the killed member returns at its address. */
function clientOf(broker: BrokerProcess): BrokerClient {
  return new BrokerClient(broker.address, credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
    'grpc.initial_reconnect_backoff_ms': 200,
    'grpc.max_reconnect_backoff_ms': 1_000,
  });
}

/** Retries what a moving partition answers: UNAVAILABLE, and NOT_OWNER from a member a round behind (bounded). */
const retrying = <T>(call: () => Promise<T>, timeoutMs = 6 * LEASE_MS): Promise<T> =>
  retryingWhile([14, 9], timeoutMs, call);

/**
 * `inflight` publish loops through one member over `subjects` (round robin) until stopped: every ack, and the bodies
 * whose call failed (outcome unknown: such a record may exist, unacknowledged). Bodies are unique per load (`tag`).
 */
function publishLoad(client: BrokerClient, subjects: readonly string[], inflight: number, tag: string) {
  const acks: Ack[] = [];
  const failed = new Map<string, string>();
  const sentAt = new Map<string, number>();
  let running = true;
  let n = 0;
  const loops = Array.from({ length: inflight }, async () => {
    while (running) {
      const k = n++;
      const subject = subjects[k % subjects.length] as string;
      const body = `${tag}-${k}`;
      sentAt.set(body, performance.now());
      try {
        const id = await publish(client, subject, body);
        acks.push({ subject, id, body, at: performance.now() });
      } catch (err) {
        failed.set(body, `${failure(err).code} ${failure(err).reason ?? ''}`);
        await sleep(50);
      }
      // Modest: two cores are shared with other suites.
      await sleep(5);
    }
  });
  return {
    acks,
    failed,
    sentAt,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

function fetchRangePage(client: BrokerClient, subject: string, fromId: number) {
  return new Promise<{ messages: MessageResponse[]; nextId: number; lastId: number }>((resolve, reject) =>
    client.fetchRange({ subject, fromId, maxMessages: 500, maxBytes: 0 }, (err, res) =>
      err ? reject(err) : resolve(res),
    ),
  );
}

/** Every record FetchRange pages out from id 1 up to the subject's last id. */
async function fetchAll(client: BrokerClient, subject: string): Promise<MessageResponse[]> {
  const out: MessageResponse[] = [];
  for (let from = 1; ;) {
    const page = await retrying(() => fetchRangePage(client, subject, from));
    out.push(...page.messages);
    if (page.messages.length === 0 || page.nextId > page.lastId) return out;
    from = page.nextId;
  }
}

/** What a subscriber receives up to `last`, resubscribing from its last id + 1 whenever its stream ends UNAVAILABLE. */
async function followUntil(
  first: Subscription,
  client: BrokerClient,
  subject: string,
  last: number,
): Promise<MessageResponse[]> {
  const got: MessageResponse[] = [];
  let sub = first;
  const deadline = Date.now() + 20_000;
  for (;;) {
    while ((sub.received.at(-1)?.id ?? 0) < last && sub.ended === undefined && Date.now() < deadline) await sleep(100);
    got.push(...sub.received);
    sub.stream.cancel();
    const ended = sub.ended;
    const upTo = got.at(-1)?.id ?? 0;
    if (upTo >= last || Date.now() >= deadline) return got;
    if (ended === undefined || ended === 'end' || ended.code !== 14) return got;
    sub = await retrying(() => subscribe(client, subject, upTo + 1));
  }
}

/** Runs `work` over `items`, `concurrency` at a time. */
async function eachLimited<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < items.length; i = next++) await work(items[i] as T);
    }),
  );
}

/** Each subject's acked records (id → body), asserting that no id was acknowledged twice. */
function ackedBySubject(subjects: readonly string[], acks: readonly Ack[]): Map<string, Map<number, string>> {
  const bySubject = new Map<string, Map<number, string>>(subjects.map((s) => [s, new Map()]));
  for (const a of acks) {
    const seen = bySubject.get(a.subject) as Map<number, string>;
    assert.equal(
      seen.get(a.id),
      undefined,
      `${a.subject}: id ${a.id} acknowledged twice (${a.body} at ${a.at.toFixed(0)})`,
    );
    seen.set(a.id, a.body);
  }
  return bySubject;
}

describe('a member killed and restarted on a wiped data dir, under load (acks=replicated)', () => {
  it('serves every acked record through every member, reissues no id, and its subscribers miss nothing', async (t) => {
    const cluster = randomName('w');
    const ids = ['w1', 'w2', 'w3'];
    const brokers = await startCluster(cluster, ids);
    const clients = brokers.map(clientOf);
    const client = (i: number): BrokerClient => clients[i % clients.length] as BrokerClient;
    const subjects = Array.from({ length: 8 }, (_, i) => `${cluster}.s${i}`);
    let restarted: BrokerProcess | undefined;
    try {
      const seeds: Ack[] = [];
      for (const [i, subject] of subjects.entries()) {
        seeds.push({ subject, id: await retrying(() => publish(client(i), subject, 'seed')), body: 'seed', at: 0 });
      }
      const owners = await Promise.all(subjects.map((s) => retrying(() => getSubject(client(0), s))));
      // The victim: the member owning the most of these subjects.
      const v = ids
        .map((id, i) => ({ i, owns: owners.filter((o) => o.owner === id).length }))
        .reduce((a, b) => (b.owns > a.owns ? b : a)).i;
      const victim = brokers[v] as BrokerProcess;
      const victimSubjects = subjects.filter((_, i) => owners[i]?.owner === ids[v]);
      assert.ok(victimSubjects.length > 0, 'the victim owns some of the subjects');
      const watcher = client(v + 1);
      const subs = await Promise.all(subjects.map((s) => retrying(() => subscribe(watcher, s, 1))));

      const loads = clients.map((c, i) => publishLoad(c, subjects, 2, `p${i}`));
      await sleep(1_500);
      const killedAt = performance.now();
      await victim.stop('SIGKILL');
      await rm(victim.dataDir, { recursive: true, force: true });
      const port = victim.address.split(':').pop() as string;
      restarted = await startBrokerProcess(
        memberEnv(cluster, ids[v] as string, { BROKER_GRPC_PORT: port }),
        victim.dataDir,
      );
      brokers[v] = restarted;
      const restartedMs = performance.now() - killedAt;
      const deadline = Date.now() + 6 * LEASE_MS;
      while (!(await acquiredSome(restarted)) && Date.now() < deadline) await sleep(200);
      const backMs = performance.now() - killedAt;
      // Every publisher, the restarted member's too, acked again; then a little more load on the settled cluster.
      const again = (): boolean => loads.every((l) => l.acks.some((a) => a.at > killedAt + backMs));
      while (!again() && Date.now() < deadline + 2 * LEASE_MS) await sleep(100);
      await sleep(1_000);
      await Promise.all(loads.map((l) => l.stop()));
      const end = performance.now();

      const acks = [...seeds, ...loads.flatMap((l) => l.acks)];
      const acked = ackedBySubject(subjects, acks);
      const gap = longestGap(
        acks.filter((a) => victimSubjects.includes(a.subject)).map((a) => a.at),
        killedAt,
        end,
      );
      const failedCalls = loads.map(
        (l, i) => `${ids[i]} ${l.failed.size} (${[...new Set(l.failed.values())].join(', ')})`,
      );
      t.diagnostic(
        `${acks.length} publishes acked; failed calls (outcome unknown) through ${failedCalls.join('; ')}; victim ${ids[v]} owned ` +
          `${victimSubjects.length} of ${subjects.length} subjects; restarted on its wiped dir ${restartedMs.toFixed(0)} ms ` +
          `after the kill, holding partitions again at ${backMs.toFixed(0)} ms; its subjects took no publish for ` +
          `${gap.toFixed(0)} ms at most (lease ${LEASE_MS} ms)`,
      );
      assert.ok(gap < GAP_BOUND_MS, `the victim's subjects took no publish for ${gap.toFixed(0)} ms`);
      assert.ok(again(), 'every member took publishes again after the restart');

      // Placement gives the victim's subjects back to the restarted member (at once, or a round after another
      // member claimed them): from then on its wiped disk serves them, old ids from the cold tier.
      for (const subject of victimSubjects) {
        const back = Date.now() + 4 * LEASE_MS;
        while ((await retrying(() => getSubject(client(v), subject))).owner !== ids[v] && Date.now() < back)
          await sleep(200);
        assert.equal((await retrying(() => getSubject(client(v), subject))).owner, ids[v], `${subject}'s owner`);
      }
      // acks=replicated: every acked id the wiped disk (or a member taking over from the killed one) lacks is in the
      // cold tier, which serves it, so nothing acknowledged was lost and no member raises the data-loss alarm.
      const alarms = brokers.flatMap((b) => b.logLines).filter((l) => l.includes('acknowledged ids lost'));
      assert.deepEqual(alarms, [], 'a data loss logged with acks=replicated');
      // New publishes continue above every acked id: nothing is reissued.
      const lastIds = new Map<string, number>();
      for (const [i, subject] of subjects.entries()) {
        const records = acked.get(subject) as Map<number, string>;
        const top = Math.max(...records.keys());
        const next = await retrying(() => publish(client(i), subject, 'after'));
        assert.ok(next > top, `${subject}: id ${next} issued again (acked up to ${top})`);
        records.set(next, 'after');
        lastIds.set(subject, next);
      }

      // Every acked record, fetched by id through every member (the wiped member serves them from the cold tier).
      const checks = acks.flatMap((a) => clients.map((c) => ({ a, c })));
      await eachLimited(checks, 16, async ({ a, c }) => {
        const m = await retrying(() => fetchMessage(c, a.subject, a.id));
        assert.equal(m.body.toString(), a.body, `${a.subject}@${a.id}`);
      });

      for (const [i, subject] of subjects.entries()) {
        const records = acked.get(subject) as Map<number, string>;
        // FetchRange from 1 through every member: ascending ids, every acked one with its body.
        for (const c of clients) {
          const all = await fetchAll(c, subject);
          const got = new Map(all.map((m) => [m.id, m.body.toString()]));
          assert.equal(got.size, all.length, `${subject}: FetchRange returned an id twice`);
          assert.deepEqual(
            all.map((m) => m.id),
            [...got.keys()].sort((a, b) => a - b),
          );
          for (const [id, body] of records) assert.equal(got.get(id), body, `${subject}@${id} by FetchRange`);
        }
        // The subscriber through a survivor: every acked id once, in order, with its body.
        const seen = await followUntil(subs[i] as Subscription, watcher, subject, lastIds.get(subject) ?? 0);
        const seenIds = seen.map((m) => m.id);
        assert.deepEqual(
          seenIds,
          [...new Set(seenIds)].sort((a, b) => a - b),
          `${subject}: twice or out of order`,
        );
        const delivered = new Map(seen.map((m) => [m.id, m.body.toString()]));
        for (const [id, body] of records) assert.equal(delivered.get(id), body, `${subject}@${id} to the subscriber`);
      }
    } finally {
      for (const c of clients) c.close();
      for (const b of brokers) await b.dispose();
      if (restarted !== undefined) await rm(restarted.dataDir, { recursive: true, force: true });
    }
  });
});

interface ColdRow {
  readonly segmentBase: number;
  readonly body: string;
  /** WRITETIME(body), µs since the epoch. */
  readonly written: string;
}

/** Every cold-tier row of a subject, by id (a list: an id under two segment bases would be two rows). */
async function coldRows(cql: cassandra.Client, subject: string): Promise<Map<number, ColdRow[]>> {
  const rows = new Map<number, ColdRow[]>();
  const bases = await cql.execute(`SELECT base_offset FROM ${KEYSPACE}.segments WHERE subject = ?`, [subject], {
    prepare: true,
  });
  for (const b of bases.rows) {
    const segmentBase = Number(String(b.get('base_offset')));
    const records = await cql.execute(
      `SELECT offset, body, WRITETIME(body) AS written FROM ${KEYSPACE}.records WHERE subject = ? AND segment_base = ?`,
      [subject, segmentBase],
      { prepare: true, fetchSize: 10_000 },
    );
    for (const r of records.rows) {
      const id = Number(String(r.get('offset')));
      const row = { segmentBase, body: (r.get('body') as Buffer).toString(), written: String(r.get('written')) };
      rows.set(id, [...(rows.get(id) ?? []), row]);
    }
  }
  return rows;
}

/** Records of `subject` in a stopped member's data dir, read with the log itself. */
async function localRecords(dataDir: string, subject: string): Promise<Map<number, string>> {
  const log = await openLog({ ...TEST_LOG_DEFAULTS, dataDir, partitions: PARTITIONS });
  try {
    const records = await log.readRange(subject, 1, { maxRecords: 100_000, maxBytes: 64 * 1024 * 1024 });
    return new Map(records.map((r) => [r.offset, Buffer.from(r.body).toString()]));
  } finally {
    await log.close();
  }
}

describe('a forced split view with acks=replicated (the owner frozen past its lease, then woken)', () => {
  it('lets exactly one member append and overwrites no cold-tier row', async (t) => {
    const cluster = randomName('v');
    // Reservations of one id: every commit raises it, so v1 takes over at v2's last id + 1, and any commit of v2's
    // written after the wake would carry ids v1 issues too.
    const brokers = await startCluster(cluster, ['v1', 'v2'], { BROKER_ID_RESERVATION: String(RESERVATION) });
    const [c1, c2] = brokers.map(clientOf) as [BrokerClient, BrokerClient];
    const cql = new cassandra.Client({ contactPoints: testCqlContactPoints(), localDataCenter: testCqlLocalDc() });
    try {
      await cql.connect();
      // A subject the member to be frozen (v2) owns.
      let subject = '';
      const seeds: Ack[] = [];
      for (let i = 0; subject === ''; i++) {
        const s = `${cluster}.s${i}`;
        seeds.push({ subject: s, id: await retrying(() => publish(c1, s, 'seed')), body: 'seed', at: 0 });
        if ((await retrying(() => getSubject(c1, s))).owner === 'v2') subject = s;
      }
      // Publishes through both members, running across the freeze and the wake: those through v2 are in its socket
      // (or in its commit) when it freezes and are the first thing it handles when it wakes.
      const viaFrozen = publishLoad(c2, [subject], 4, 'via-v2');
      const viaOther = publishLoad(c1, [subject], 2, 'via-v1');
      await sleep(700);
      const frozen = brokers[1] as BrokerProcess;
      const pid = frozen.child.pid as number;
      const frozenAt = performance.now();
      process.kill(pid, 'SIGSTOP');
      // v1 claims the partition after v2's lease + drift, and appends.
      // The earliest v1 may claim is v2's last renewal (a round, lease / 3, before the freeze) + lease + drift.
      const settled = frozenAt + LEASE_MS / 3;
      const claimed = (): Ack[] => viaOther.acks.filter((a) => a.at > settled);
      const deadline = Date.now() + 8 * LEASE_MS;
      while (claimed().length < 10 && Date.now() < deadline) await sleep(100);
      const takenOver = claimed().map((a) => a.id);
      t.diagnostic(`v1 appended ${((claimed()[0]?.at ?? NaN) - frozenAt).toFixed(0)} ms after the freeze`);
      assert.ok(takenOver.length > 0, 'v1 appended while v2 was frozen');
      const snapshot = await coldRows(cql, subject);
      const wokenAt = performance.now();
      process.kill(pid, 'SIGCONT');
      await sleep(2_000);
      await Promise.all([viaFrozen.stop(), viaOther.stop()]);
      assert.equal(await frozen.stop('SIGKILL'), null);

      const acks = [...seeds.filter((a) => a.subject === subject), ...viaFrozen.acks, ...viaOther.acks];
      const acked = ackedBySubject([subject], acks).get(subject) as Map<number, string>;
      const maxBefore = Math.max(...acks.filter((a) => a.at < settled).map((a) => a.id));
      const firstTaken = Math.min(...takenOver);
      const rows = await coldRows(cql, subject);
      const failed = new Map([...viaFrozen.failed, ...viaOther.failed]);
      const sentAt = new Map([...viaFrozen.sentAt, ...viaOther.sentAt]);
      const after = (ms: number): string => `${(ms - frozenAt).toFixed(0)} ms`;
      // Ids between v2's last ack before the freeze and v1's first are v2's reservation, which v1 skips: a woken v2
      // appending what it admits after the freeze would continue its own head there.
      const reserved = (id: number): boolean => id > maxBefore && id < firstTaken;
      const admittedLate = acks.filter((a) => reserved(a.id) && (sentAt.get(a.body) ?? 0) > frozenAt);
      assert.deepEqual(
        admittedLate.map((a) => `${a.body}@${a.id} sent ${after(sentAt.get(a.body) ?? 0)} after the freeze`),
        [],
        'the woken member appended publishes it took after its lease ended',
      );
      // Every acked id is exactly one row in the cold tier, with the acked body: no second writer's row beside it.
      for (const [id, body] of acked) {
        assert.deepEqual(
          rows.get(id)?.map((r) => r.body),
          [body],
          `${subject}@${id}: the cold tier holds exactly the acked body`,
        );
      }
      // No row read while v2 was frozen (v1's appends among them) changed after the wake.
      let rewritten = 0;
      for (const [id, was] of snapshot) {
        const now = rows.get(id) ?? [];
        assert.deepEqual(
          now.map((r) => r.body),
          was.map((r) => r.body),
          `${subject}@${id}: a cold-tier row changed after the wake`,
        );
        if (now.some((r, i) => r.written !== was[i]?.written)) rewritten++;
      }
      const unacked = [...rows].filter(([id]) => !acked.has(id));
      for (const [id, r] of unacked) {
        assert.ok(
          r.every((row) => failed.has(row.body)),
          `${subject}@${id}: a row no failed call explains: ${r.map((row) => row.body).join(', ')}`,
        );
      }
      // What v2 still finished after the wake: commits it had issued before freezing (their rows land in its
      // reservation, beside nothing of v1's), the pause between the lease check and the write that fencing by time
      // assumes away (README, Cluster); queued appends are refused by the lease asked again at the write.
      const landedLate = [...rows].filter(([id]) => reserved(id) && !snapshot.has(id)).map(([id]) => id);
      const late = acks.filter((a) => a.at > settled && reserved(a.id));
      if (late.length > 0 || landedLate.length > 0)
        t.diagnostic(
          `v2 finished after the wake: acked ${late.map((a) => `${a.body}@${a.id} (sent ${after(sentAt.get(a.body) ?? 0)})`).join(', ')}; ` +
            `rows landed after the freeze in its reservation: ${landedLate.join(', ')}`,
        );

      // v2's own log: what it held before the freeze, and nothing it took after it in the reserved range.
      const local = await localRecords(frozen.dataDir, subject);
      for (const [id, body] of local) {
        const expected = acked.get(id);
        if (expected !== undefined) assert.equal(body, expected, `${subject}@${id} in v2's log`);
        else assert.ok(failed.has(body), `${subject}@${id} in v2's log was never acked nor refused: ${body}`);
        if (reserved(id))
          assert.ok((sentAt.get(body) ?? 0) < frozenAt, `${subject}@${id} (${body}) taken by v2 after its freeze`);
      }
      const v2After = viaFrozen.acks.filter((a) => a.at > wokenAt).length;
      t.diagnostic(
        `frozen ${((wokenAt - frozenAt) / 1000).toFixed(1)} s; ${acks.length} acked (v2's last before the freeze ` +
          `${maxBefore}, v1's first ${firstTaken}; ${v2After} through v2 after the wake), ${failed.size} failed ` +
          `calls (${[...new Set(failed.values())].join(', ')}); cold tier: ${rows.size} rows, ${unacked.length} of unacknowledged calls, ${snapshot.size} read ` +
          `before the wake (${rewritten} rewritten with the same body); v2's log ${local.size} records`,
      );
    } finally {
      await cql.shutdown();
      c1.close();
      c2.close();
      for (const b of brokers) await b.dispose();
    }
  });
});
