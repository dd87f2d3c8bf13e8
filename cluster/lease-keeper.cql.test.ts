import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import cassandra from 'cassandra-driver';
import { after, before, describe, it } from 'node:test';
import { randomKeyspace, randomName, testCqlContactPoints, testCqlLocalDc } from '../test-support/services.js';
import { CassandraOwnershipStore } from './cassandra/cassandra-ownership-store.js';
import { LeaseKeeper } from './lease-keeper.js';
import { placement } from './placement.js';

const PARTITIONS = 8;
// Short timings, so a failover takes seconds; the rules between them are the production ones.
const LEASE = 3_000;
const DRIFT = 200;
const EVERY = 800;
const keyspace = randomKeyspace('keeper');
let client: cassandra.Client | undefined;

before(async () => {
  client = new cassandra.Client({ contactPoints: testCqlContactPoints(), localDataCenter: testCqlLocalDc() });
  await client.connect();
});

after(async () => {
  await client?.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
  await client?.shutdown();
});

async function keeperOn(cluster: string, id: string): Promise<LeaseKeeper> {
  const store = await CassandraOwnershipStore.open(
    {
      contactPoints: testCqlContactPoints(),
      localDataCenter: testCqlLocalDc(),
      keyspace,
      replicationFactor: 1,
      cluster,
      partitions: PARTITIONS,
      consistency: 'localQuorum',
    },
    client,
  );
  return new LeaseKeeper({
    store,
    member: { id, address: `127.0.0.1:${id === 'a' ? 50051 : 50052}`, startedAtMs: Date.now() },
    partitions: PARTITIONS,
    leaseMs: LEASE,
    maxClockDriftMs: DRIFT,
    safetyMs: 300,
    renewEveryMs: EVERY,
    memberTtlMs: LEASE,
  });
}

async function until(what: string, done: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(50);
  }
}

const partitionsOf = (k: LeaseKeeper): number[] => k.held().map((h) => h.partition);
const share = (id: string): number[] =>
  placement(PARTITIONS, ['a', 'b']).flatMap((owner, p) => (owner === id ? [p] : []));
const all = Array.from({ length: PARTITIONS }, (_, p) => p);

describe('LeaseKeeper on the CQL server (needs the CQL server)', () => {
  describe('when an owner stops renewing', () => {
    it('should lose its partitions to the other member after lease + drift, never before', async () => {
      const cluster = randomName('cluster');
      const a = await keeperOn(cluster, 'a');
      const b = await keeperOn(cluster, 'b');
      try {
        a.start();
        await until('a holds every partition', () => partitionsOf(a).length === PARTITIONS);
        b.start();
        await until('the partitions are placed', () => partitionsOf(b).join() === share('b').join());
        await until('a has handed over', () => partitionsOf(a).join() === share('a').join());
        assert.ok(share('a').every((p) => a.canAppend(p)) && share('b').every((p) => b.canAppend(p)));

        // a dies: no more renewals, no release, its heartbeat row lapses by its TTL.
        const leaseEnds = new Map(a.held().map((h) => [h.partition, h.leaseUntilMs]));
        await a.stop({ handOver: false });
        const acquiredAt = new Map<number, number>();
        b.on('acquired', (p) => acquiredAt.set(p, Date.now()));
        await until('b holds every partition', () => partitionsOf(b).length === PARTITIONS);

        assert.deepEqual(
          [...acquiredAt.keys()].sort((x, y) => x - y),
          share('a'),
        );
        for (const [p, at] of acquiredAt) {
          const leaseEnd = leaseEnds.get(p) ?? 0;
          assert.ok(
            at >= leaseEnd + DRIFT,
            `partition ${p} taken ${leaseEnd + DRIFT - at} ms before a's lease + drift`,
          );
          assert.equal(b.epochOf(p), 2, `partition ${p}: a held it at epoch 1, b's claim is the next`);
        }
        assert.deepEqual(partitionsOf(b), all);
      } finally {
        await a.stop({ handOver: false });
        await b.stop({ handOver: false });
      }
    });
  });

  describe('when an owner stops cleanly', () => {
    it('should hand every partition to the other member without waiting for its lease', async () => {
      const cluster = randomName('cluster');
      const a = await keeperOn(cluster, 'a');
      const b = await keeperOn(cluster, 'b');
      try {
        a.start();
        b.start();
        // Both sides, together: a may already hold only its share while b has not yet claimed what a released.
        await until(
          'the partitions are placed',
          () => partitionsOf(a).join() === share('a').join() && partitionsOf(b).join() === share('b').join(),
        );
        const leaseEnds = new Map(a.held().map((h) => [h.partition, h.leaseUntilMs]));
        const acquiredAt = new Map<number, number>();
        b.on('acquired', (p) => acquiredAt.set(p, Date.now()));
        await a.stop();
        assert.deepEqual(partitionsOf(a), []);
        await until('b holds every partition', () => partitionsOf(b).length === PARTITIONS);
        assert.deepEqual(
          [...acquiredAt.keys()].sort((x, y) => x - y),
          share('a'),
        );
        for (const [p, at] of acquiredAt)
          assert.ok(at < (leaseEnds.get(p) ?? 0), `partition ${p} waited for a's lease: it was not released`);
      } finally {
        await a.stop({ handOver: false });
        await b.stop({ handOver: false });
      }
    });
  });
});
