import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import cassandra from 'cassandra-driver';
import { after, before, describe, it } from 'node:test';
import { ConfigError, UnavailableError } from '../../core/index.js';
import { randomKeyspace, randomName, testCqlContactPoints, testCqlLocalDc } from '../../test-support/services.js';
import { ownershipStoreContract } from '../test-support/ownership-store-contract.js';
import { CassandraOwnershipStore } from './cassandra-ownership-store.js';
import type { CassandraOwnershipStoreOptions } from './cassandra-ownership-options.js';

const keyspace = randomKeyspace('ownership');
const PARTITIONS = 16;
let client: cassandra.Client | undefined;

const options = (extra: Partial<CassandraOwnershipStoreOptions> = {}): CassandraOwnershipStoreOptions => ({
  contactPoints: testCqlContactPoints(),
  localDataCenter: testCqlLocalDc(),
  keyspace,
  replicationFactor: 1,
  cluster: randomName('cluster'),
  partitions: PARTITIONS,
  consistency: 'localQuorum',
  serialConsistency: 'serial',
  ...extra,
});

before(async () => {
  client = new cassandra.Client({ contactPoints: testCqlContactPoints(), localDataCenter: testCqlLocalDc() });
  await client.connect();
});

after(async () => {
  await client?.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
  await client?.shutdown();
});

// Each test a cluster of its own (a random name) in one keyspace, on one shared driver client.
ownershipStoreContract('CassandraOwnershipStore (needs the CQL server)', async () => {
  const store = await CassandraOwnershipStore.open(options(), client);
  return {
    store,
    partitions: PARTITIONS,
    now: () => Date.now(),
    // The server's TTLs run on its clock: real time has to pass.
    pass: (ms) => sleep(ms),
    dispose: () => store.close(),
  };
});

describe('CassandraOwnershipStore (needs the CQL server)', () => {
  describe('when opened', () => {
    it('should refuse options it cannot run with, naming the option', async () => {
      await assert.rejects(CassandraOwnershipStore.open(options({ contactPoints: [] })), ConfigError);
      await assert.rejects(CassandraOwnershipStore.open(options({ keyspace: 'Bad-Name' })), /keyspace/);
      await assert.rejects(CassandraOwnershipStore.open(options({ partitions: 0 })), /partitions/);
    });

    it('should answer UNAVAILABLE when no CQL server listens', async () => {
      const refused = CassandraOwnershipStore.open(options({ contactPoints: ['127.0.0.1:1'] }));
      await assert.rejects(refused, UnavailableError);
    });

    it('should keep clusters that share the keyspace apart', async () => {
      const a = await CassandraOwnershipStore.open(options(), client);
      const b = await CassandraOwnershipStore.open(options(), client);
      await a.heartbeat({ id: 'b0', address: 'a:1', startedAtMs: 1 }, 60_000);
      await a.claim(0, 'b0', { owner: undefined, epoch: 0, leaseUntilMs: 0 }, 10_000);
      assert.deepEqual(await b.liveMembers(), []);
      assert.deepEqual(await b.ownerships(), []);
      assert.equal((await a.ownerships()).length, 1);
    });
  });
});
