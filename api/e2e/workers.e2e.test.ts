import { credentials } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { partitionOf, workerOf } from '../../core/index.js';
import { BrokerClient, type ListSubjectsResponse } from '../../proto/gen/broker.js';
import {
  failure,
  fetchMessage,
  publish,
  startBrokerProcess,
  subscribe,
  type BrokerProcess,
  getSubject,
} from '../test-support/broker-process.js';
import { socketDirFor } from '../workers/worker-topology.js';

const WORKERS = 3;
const PARTITIONS = 16;
const FAILED_PRECONDITION = 9;

/** A client on a connection of its own: node:cluster hands each new connection to the next worker in turn. */
function ownConnection(address: string): BrokerClient {
  return new BrokerClient(address, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
}

function ownerOf(subject: string): number {
  return workerOf(partitionOf(subject, PARTITIONS), WORKERS);
}

function listSubjects(client: BrokerClient, prefix: string, pageSize: number, pageToken: string) {
  return new Promise<ListSubjectsResponse>((resolve, reject) =>
    client.listSubjects({ prefix, pageSize, pageToken }, (err, res) => (err ? reject(err) : resolve(res))),
  );
}

/** Subjects that land on every worker, four on each. */
const SUBJECTS = [0, 1, 2].flatMap((w) =>
  Array.from({ length: 40 }, (_, i) => `workers.s${i}`)
    .filter((s) => ownerOf(s) === w)
    .slice(0, 4),
);

describe(`a broker of ${WORKERS} workers (BROKER_WORKERS, started as users start it)`, () => {
  let broker: BrokerProcess;
  const clients: BrokerClient[] = [];
  before(async () => {
    broker = await startBrokerProcess({ BROKER_WORKERS: String(WORKERS), BROKER_PARTITIONS: String(PARTITIONS) });
    for (let i = 0; i < WORKERS * 2; i++) clients.push(ownConnection(broker.address));
  });
  after(async () => {
    for (const c of clients) c.close();
    await broker.dispose();
  });
  const client = (i: number): BrokerClient => clients[i % clients.length] as BrokerClient;

  it('spreads the subjects over every worker', () => {
    assert.deepEqual(new Set(SUBJECTS.map(ownerOf)), new Set([0, 1, 2]));
  });

  it('publishes through one connection and fetches through others: dense ids, bodies in order', async () => {
    for (const [s, subject] of SUBJECTS.entries()) {
      for (let n = 1; n <= 5; n++) assert.equal(await publish(client(s + n), subject, `${subject}#${n}`), n);
    }
    for (const [s, subject] of SUBJECTS.entries()) {
      for (let n = 1; n <= 5; n++) {
        const m = await fetchMessage(client(s + n + 1), subject, n);
        assert.equal(m.body.toString(), `${subject}#${n}`);
      }
    }
  });

  it('names the owning worker in GetSubject from whichever worker answers', async () => {
    for (const subject of SUBJECTS) {
      for (let c = 0; c < WORKERS; c++) {
        const info = await getSubject(client(c), subject);
        assert.match(info.owner, new RegExp(`/w${ownerOf(subject)}$`));
        assert.equal(info.lastId, 5);
      }
    }
  });

  it('lists the subjects of all workers in byte order, page after page', async () => {
    const seen: string[] = [];
    let token = '';
    let c = 0;
    do {
      const page = await listSubjects(client(c++), 'workers.', 5, token);
      assert.ok(page.subjects.length <= 5);
      seen.push(...page.subjects.map((s) => s.subject));
      token = page.nextPageToken;
    } while (token !== '');
    assert.deepEqual(
      seen,
      [...SUBJECTS].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
    );
  });

  it('replays then delivers live through any worker, with no gap and no duplicate', async () => {
    const subject = 'workers.live';
    const subs = await Promise.all([0, 1, 2, 3].map((c) => subscribe(client(c), subject, 1)));
    const publishing = Array.from({ length: 200 }, (_, n) => publish(client(n), subject, `m${n}`));
    await Promise.all(publishing);
    for (const sub of subs) {
      const got = await sub.waitFor(200);
      assert.deepEqual(
        got.map((m) => m.id),
        Array.from({ length: 200 }, (_, i) => i + 1),
      );
      sub.stream.cancel();
    }
    const late = await subscribe(client(5), subject, 150);
    assert.deepEqual(
      (await late.waitFor(51)).map((m) => m.id),
      Array.from({ length: 51 }, (_, i) => i + 150),
    );
    late.stream.cancel();
  });

  it('refuses a call that reaches a worker for a partition it does not own: NOT_OWNER, naming the owner', async () => {
    const subject = SUBJECTS.find((s) => ownerOf(s) === 1) as string;
    const socket = `unix:${socketDirFor(broker.dataDir)}/w0.sock`;
    const direct = new BrokerClient(socket, credentials.createInsecure());
    try {
      const err = await publish(direct, subject, 'misrouted').then(
        () => assert.fail('a misrouted publish was accepted'),
        (e: unknown) => failure(e),
      );
      assert.equal(err.code, FAILED_PRECONDITION);
      assert.equal(err.reason, 'NOT_OWNER');
      assert.match(err.message, /\/w1/);
      const fetched = await fetchMessage(direct, subject, 1).then(
        () => assert.fail('a misrouted fetch was served'),
        (e: unknown) => failure(e),
      );
      assert.equal(fetched.reason, 'NOT_OWNER');
    } finally {
      direct.close();
    }
    // Nothing was appended by the refused publish.
    assert.equal((await getSubject(client(0), subject)).lastId, 5);
  });

  it('serves one /metrics for all workers, each series labelled with its worker', async () => {
    const text = await broker.metrics();
    for (let w = 0; w < WORKERS; w++) assert.match(text, new RegExp(`method_count\\{[^}]*worker="${w}"`));
    assert.match(text, /broker_forwarded_publishes_total\{[^}]*\} [1-9]/);
    assert.match(text, /broker_event_loop_utilization\{worker="\d"\}/);
  });
});

describe('workers across faults and restarts', () => {
  it(
    'keeps every acked record and never reuses an id when a worker is SIGKILLed under load',
    { timeout: 120_000 },
    async () => {
      const broker = await startBrokerProcess({
        BROKER_WORKERS: String(WORKERS),
        BROKER_PARTITIONS: String(PARTITIONS),
      });
      const clients = Array.from({ length: 6 }, () => ownConnection(broker.address));
      try {
        const subjects = [0, 1, 2].flatMap((w) => SUBJECTS.filter((s) => ownerOf(s) === w).slice(0, 2));
        const watched = subjects.find((s) => ownerOf(s) === 1) as string;
        const subs = await Promise.all(clients.slice(0, 3).map((c) => subscribe(c, watched, 1)));
        const acked = new Map<string, Map<number, string>>(subjects.map((s) => [s, new Map()]));
        let stop = false;
        const load = clients.slice(3).map(async (c, p) => {
          for (let n = 0; !stop; n++) {
            const subject = subjects[(n + p) % subjects.length] as string;
            const body = `p${p}-${n}`;
            const id = await publish(c, subject, body).catch(() => undefined);
            if (id === undefined) continue;
            const seen = acked.get(subject) as Map<number, string>;
            assert.equal(seen.get(id), undefined, `id ${id} of ${subject} acknowledged twice`);
            seen.set(id, body);
          }
        });
        await new Promise((r) => setTimeout(r, 1_000));
        const victim = broker.workerPids().get(1) as number;
        process.kill(victim, 'SIGKILL');
        const deadline = Date.now() + 30_000;
        while (broker.workerPids().get(1) === victim && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 100));
        assert.notEqual(broker.workerPids().get(1), victim, 'worker 1 was not restarted');
        await new Promise((r) => setTimeout(r, 1_000));
        stop = true;
        await Promise.all(load);

        for (const [subject, seen] of acked) {
          assert.ok(seen.size > 0, `nothing acked on ${subject}`);
          for (const [id, body] of seen)
            assert.equal((await fetchMessage(clients[0]!, subject, id)).body.toString(), body);
          const next = await publish(clients[1]!, subject, 'after');
          assert.ok(next > Math.max(...seen.keys()), `${subject}: next id ${next} not above every acked id`);
        }
        const last = Math.max(...(acked.get(watched) as Map<number, string>).keys());
        let resumed = 0;
        for (const sub of subs) {
          // A subscriber on the killed worker lost its connection; one on another worker resumes with no gap.
          if (sub.ended === undefined) {
            await sub.waitFor(last);
            resumed += 1;
          }
          const ids = sub.received.map((m) => m.id);
          assert.deepEqual(
            ids,
            Array.from({ length: ids.length }, (_, i) => i + 1),
            'a gap or a duplicate',
          );
          sub.stream.cancel();
        }
        assert.ok(resumed >= 1, 'no subscriber outlived the killed worker');
      } finally {
        for (const c of clients) c.close();
        await broker.dispose();
      }
    },
  );

  it(
    'keeps every record and id when the number of workers changes between restarts',
    { timeout: 120_000 },
    async () => {
      let broker = await startBrokerProcess({ BROKER_WORKERS: '3', BROKER_PARTITIONS: String(PARTITIONS) });
      try {
        for (const subject of SUBJECTS) await publish(broker.client(), subject, `${subject}#1`);
        for (const [workers, id] of [
          ['2', 2],
          ['1', 3],
          ['3', 4],
        ] as const) {
          const code = await broker.stop();
          assert.equal(code, 0, 'the broker did not stop cleanly');
          broker = await broker.restart({ BROKER_WORKERS: workers });
          const client = ownConnection(broker.address);
          try {
            for (const subject of SUBJECTS) {
              assert.equal((await fetchMessage(client, subject, 1)).body.toString(), `${subject}#1`);
              assert.equal(await publish(client, subject, `${subject}#${id}`), id);
            }
          } finally {
            client.close();
          }
        }
      } finally {
        await broker.dispose();
      }
    },
  );
});
