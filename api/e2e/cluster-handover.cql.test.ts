import { credentials } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BrokerClient } from '../../proto/gen/broker.js';
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
/**
 * A graceful hand-over under load must leave the partition without an ack for less than this: half the lease
 * (before, the next owner claimed at its next round after the owner had drained and closed its port: 1.9-3.4 s in
 * the bench). Measured 0.5-0.9 s on a quiet machine while the owner still re-copied the just-sealed segment to the
 * cold tier; 0.2-0.5 s since a segment written only by replicated commits is sealed replicated (no copy). A machine
 * shared with other work stretches the rest of the hand-over, hence the margin.
 */
const GAP_BOUND_MS = LEASE_MS / 2;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Retries what a partition still settling on its placed member answers UNAVAILABLE (only before the load). */
const retrying = <T>(call: () => Promise<T>): Promise<T> => retryingWhile([14], 6 * LEASE_MS, call);

async function startCluster(cluster: string): Promise<BrokerProcess[]> {
  const brokers = await Promise.all(
    ['b1', 'b2', 'b3'].map((id) =>
      startBrokerProcess({
        BROKER_WORKERS: '1',
        BROKER_CLUSTER: cluster,
        BROKER_ID: id,
        BROKER_PARTITIONS: '8',
        BROKER_ACKS: 'replicated',
        BROKER_LEASE: `${LEASE_MS / 1000}s`,
        BROKER_MAX_CLOCK_DRIFT: '500ms',
        SCYLLA_CONTACT_POINTS: testCqlContactPoints().join(','),
        SCYLLA_LOCAL_DC: testCqlLocalDc(),
        SCYLLA_KEYSPACE: KEYSPACE,
      }),
    ),
  );
  const deadline = Date.now() + 10 * LEASE_MS;
  for (;;) {
    const acquired = await Promise.all(
      brokers.map(async (b) => metricValue(await b.metrics(), 'broker_partition_moves_total{event="acquired"}') ?? 0),
    );
    if (acquired.every((n) => n > 0)) return brokers;
    if (Date.now() > deadline) throw new Error(`the cluster did not settle: acquired ${acquired.join(', ')}`);
    await sleep(250);
  }
}

/** `inflight` publishes at a time through one member until stopped: each ack's id, body and time, and each error. */
function publishLoad(client: BrokerClient, subject: string, inflight: number) {
  const acks: Array<{ id: number; body: string; at: number }> = [];
  const errors: Array<{ at: number; what: string }> = [];
  let running = true;
  let n = 0;
  const loops = Array.from({ length: inflight }, async () => {
    while (running) {
      const body = `m${n++}`;
      try {
        acks.push({ id: await publish(client, subject, body), body, at: performance.now() });
      } catch (err) {
        const f = failure(err);
        errors.push({ at: performance.now(), what: `${f.code} ${f.reason ?? ''} ${f.message}` });
        await sleep(20);
      }
    }
  });
  return {
    acks,
    errors,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

describe('a graceful hand-over under load (SIGTERM of the owner, acks=replicated)', () => {
  const cluster = randomName('h');
  let brokers: BrokerProcess[] = [];
  const clients = new Map<BrokerProcess, BrokerClient>();
  before(async () => {
    brokers = await startCluster(cluster);
    for (const b of brokers)
      clients.set(
        b,
        new BrokerClient(b.address, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }),
      );
  });
  after(async () => {
    for (const c of clients.values()) c.close();
    for (const b of brokers) await b.dispose();
  });

  it('is invisible to publishers through another member: no error, a short gap, ids dense, a subscriber sees every id', async (t) => {
    const subject = `${cluster}.moving`;
    const any = clients.get(brokers[0] as BrokerProcess) as BrokerClient;
    await retrying(() => publish(any, subject, 'm-first'));
    const owner = (await retrying(() => getSubject(any, subject))).owner;
    const ownerProcess = brokers[['b1', 'b2', 'b3'].indexOf(owner)] as BrokerProcess;
    const [via, watcher] = brokers.filter((b) => b !== ownerProcess).map((b) => clients.get(b) as BrokerClient);
    assert.ok(via !== undefined && watcher !== undefined, `owner ${owner}`);
    // The watcher's view of the rows can be a round behind the claim GetSubject saw: a subscription is not held.
    const sub = await retrying(() => subscribe(watcher, subject, 1));

    const load = publishLoad(via, subject, 4);
    await sleep(1_000);
    const at = performance.now();
    assert.equal(await ownerProcess.stop(), 0);
    const exited = performance.now();
    await sleep(1_500);
    await load.stop();
    const end = performance.now();

    t.diagnostic(
      `owner exited after ${(exited - at).toFixed(0)} ms; longest gap ${longestGap(
        load.acks.map((a) => a.at),
        at,
        end,
      ).toFixed(0)} ms; ${load.acks.length} acks, ${load.errors.length} errors`,
    );
    assert.deepEqual(load.errors, [], 'the client saw errors during the hand-over');
    const gap = longestGap(
      load.acks.map((a) => a.at),
      at,
      end,
    );
    assert.ok(
      gap < GAP_BOUND_MS,
      `no ack for ${gap.toFixed(0)} ms (owner exited after ${(exited - at).toFixed(0)} ms)`,
    );
    const ids = load.acks.map((a) => a.id).sort((a, b) => a - b);
    assert.deepEqual(
      ids,
      Array.from({ length: ids.length }, (_, i) => i + 2),
      'ids dense from 2 and never reissued',
    );
    // The new owner's disk never held the old owner's ids (the cold tier serves them): an info line, no alarm.
    const survivors = brokers.filter((b) => b !== ownerProcess).flatMap((b) => b.logLines);
    const alarms = survivors.filter((l) => l.includes('acknowledged ids lost'));
    assert.deepEqual(alarms, [], 'a hand-over logged a data loss');
    assert.ok(
      survivors.some((l) => l.includes('ids issued by the previous owner') && l.includes(subject)),
      'the ids the old owner issued are logged as handed over',
    );
    const last = ids.at(-1) ?? 1;
    // Every acked record, read through the other member, is the one that was acked with that id.
    const reader = clients.get(brokers.find((b) => b !== ownerProcess) as BrokerProcess) as BrokerClient;
    for (let i = 0; i < load.acks.length; i += 16) {
      const chunk = load.acks.slice(i, i + 16);
      const bodies = await Promise.all(chunk.map((a) => retrying(() => fetchMessage(reader, subject, a.id))));
      chunk.forEach((a, k) => assert.equal(bodies[k]?.body.toString(), a.body, `id ${a.id}`));
    }

    // The subscriber across the hand-over: every id once, in order, with no gap (resubscribing from its next id
    // if its stream ended UNAVAILABLE, as documented).
    const seen: number[] = [];
    let stream = sub;
    const deadline = Date.now() + 20_000;
    for (;;) {
      while ((stream.received.at(-1)?.id ?? 0) < last && stream.ended === undefined && Date.now() < deadline)
        await sleep(100);
      seen.push(...stream.received.map((m) => m.id));
      stream.stream.cancel();
      const ended = stream.ended;
      if ((seen.at(-1) ?? 0) >= last || Date.now() >= deadline) break;
      if (ended === undefined || ended === 'end' || ended.code !== 14) break;
      stream = await retrying(() => subscribe(watcher, subject, (seen.at(-1) ?? 0) + 1));
    }
    assert.deepEqual(
      seen,
      Array.from({ length: last }, (_, i) => i + 1),
      'the subscriber saw every id once',
    );
  });
});
