import { credentials } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { BrokerClient } from '../../proto/gen/broker.js';
import { randomName, testCqlContactPoints, testCqlLocalDc } from '../../test-support/services.js';
import {
  failure,
  fetchMessage,
  metricValue,
  publish,
  startBrokerProcess,
  type BrokerProcess,
  getSubject,
  retryingWhile,
} from '../test-support/broker-process.js';

const KEYSPACE = 'broker_cluster_e2e';
const LEASE_MS = 3_000;
const UNAVAILABLE = 14;
const NOT_OWNER = 9;

function clientOf(broker: BrokerProcess): BrokerClient {
  return new BrokerClient(broker.address, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
}

/** Retries a call a partition between owners answers UNAVAILABLE or NOT_OWNER (for at most a few leases). */
const retrying = <T>(call: () => Promise<T>, timeoutMs = 8 * LEASE_MS): Promise<T> =>
  retryingWhile([UNAVAILABLE, NOT_OWNER], timeoutMs, call);

function startMember(cluster: string, id: string, dataDir?: string): Promise<BrokerProcess> {
  return startBrokerProcess(
    {
      BROKER_WORKERS: '1',
      BROKER_CLUSTER: cluster,
      BROKER_ID: id,
      BROKER_ACKS: 'local',
      BROKER_PARTITIONS: '8',
      BROKER_LEASE: `${LEASE_MS / 1000}s`,
      BROKER_MAX_CLOCK_DRIFT: '200ms',
      SCYLLA_CONTACT_POINTS: testCqlContactPoints().join(','),
      SCYLLA_LOCAL_DC: testCqlLocalDc(),
      SCYLLA_KEYSPACE: KEYSPACE,
    },
    dataDir,
  );
}

/** Waits until every member holds partitions (placement hands a newcomer its share a round or two after it joins). */
async function settled(brokers: readonly BrokerProcess[]): Promise<void> {
  const deadline = Date.now() + 10 * LEASE_MS;
  for (;;) {
    const acquired = await Promise.all(
      brokers.map(async (b) => metricValue(await b.metrics(), 'broker_partition_moves_total{event="acquired"}') ?? 0),
    );
    if (acquired.every((n) => n > 0)) return;
    if (Date.now() > deadline)
      throw new Error(`the cluster did not settle: partitions acquired ${acquired.join(', ')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('a cluster with BROKER_ACKS=local (acknowledged records streamed to the CQL server behind the acks)', () => {
  it('loses at most the reported lag of a killed owner whose disk is wiped, and reissues no id', async (t) => {
    const cluster = randomName('l');
    const brokers = await Promise.all([startMember(cluster, 'l1'), startMember(cluster, 'l2')]);
    let victim = brokers[1] as BrokerProcess;
    const clients = brokers.map(clientOf);
    // Cleared in finally too: a publisher looping on a closed client would never yield to the event loop.
    let publishing = true;
    try {
      await settled(brokers);
      const subjects = Array.from({ length: 8 }, (_, i) => `${cluster}.s${i}`);
      const acked = new Map<string, Map<number, string>>(subjects.map((s) => [s, new Map()]));
      /** When each publish to a subject of the victim was acknowledged (ms since the epoch). */
      const victimAckTimes: number[] = [];
      const owned: string[] = [];
      for (const s of subjects) {
        acked.get(s)?.set(await retrying(() => publish(clients[0]!, s, `${s}#first`)), `${s}#first`);
        if ((await retrying(() => getSubject(clients[0]!, s))).owner === 'l2') owned.push(s);
      }
      assert.ok(owned.length > 0, 'the victim owns some of the subjects');

      // Publishers on every subject through both members (the victim's subjects forwarded to it from l1).
      const publishers = subjects.flatMap((subject, i) =>
        [0, 1].map(async (k) => {
          for (let n = 0; publishing; n++) {
            const body = `${subject}#${k}.${n}`;
            const id = await publish(clients[(i + k) % 2]!, subject, body).catch(() => undefined);
            if (id === undefined) continue;
            assert.ok(!acked.get(subject)?.has(id), `${subject}@${id} acknowledged twice`);
            acked.get(subject)?.set(id, body);
            if (owned.includes(subject)) victimAckTimes.push(Date.now());
          }
        }),
      );
      // The victim's lag, scraped until the kill, which follows the last scrape at once.
      const scrapes: Array<{ at: number; lag: number }> = [];
      const until = Date.now() + 3_000;
      for (;;) {
        const at = Date.now();
        const lag = metricValue(await victim.metrics(), 'broker_replication_lag_records');
        assert.ok(lag !== undefined, 'the lag is exported');
        scrapes.push({ at, lag });
        if (Date.now() >= until) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      await victim.stop('SIGKILL');
      const killedAt = Date.now();
      publishing = false;
      await Promise.all(publishers);
      const reported = Math.max(...scrapes.filter((s) => s.at >= killedAt - 1_000).map((s) => s.lag));
      // What the victim acknowledged after its last scrape was asked for is in no report (a few ms of acks).
      const lastScrape = scrapes.at(-1)?.at ?? killedAt;
      const unreported = victimAckTimes.filter((at) => at >= lastScrape).length;
      await rm(victim.dataDir, { recursive: true, force: true });
      victim = await victim.restart();
      brokers[1] = victim;
      clients[1]?.close();
      clients[1] = clientOf(victim);

      let lost = 0;
      let served = 0;
      for (const [subject, records] of acked) {
        for (const [id, body] of records) {
          const found = await retrying(() => fetchMessage(clients[(id % 2) as 0 | 1]!, subject, id)).catch(
            (err: unknown) => {
              if (failure(err).reason !== 'DATA_LOSS') throw err;
              return undefined;
            },
          );
          if (found === undefined) lost += 1;
          else {
            assert.equal(found.body.toString(), body, `${subject}@${id}`);
            served += 1;
          }
        }
        const next = await retrying(() => publish(clients[0]!, subject, 'after the restart'));
        assert.ok(next > Math.max(0, ...records.keys()), `${subject}: id ${next} reissued`);
      }
      t.diagnostic(
        `${served + lost} acked (${owned.length} of ${subjects.length} subjects the victim's): ${served} served, ` +
          `${lost} DATA_LOSS; largest lag scraped in the last second before the kill: ${reported} ` +
          `(${scrapes.length} scrapes, max ${Math.max(...scrapes.map((s) => s.lag))}); ${unreported} acked after the last`,
      );
      assert.ok(served > 0, 'records were acked');
      assert.ok(
        lost <= reported + unreported,
        `DATA_LOSS ${lost} <= the lag reported before the kill (${reported}) + acks after the last scrape (${unreported})`,
      );
    } finally {
      publishing = false;
      for (const c of clients) c.close();
      for (const b of brokers) await b.dispose();
    }
  });
});
