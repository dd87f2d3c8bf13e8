import { after, before, describe, it } from 'node:test';
import cassandra from 'cassandra-driver';
import { randomKeyspace, testCqlContactPoints, testCqlLocalDc } from '../test-support/services.js';
import { openCassandraColdStore, type CassandraColdStore } from './cassandra/index.js';
import { wipedDiskScenario } from './test-support/replicated-acks-scenario.js';

describe('BROKER_ACKS=replicated on the CQL server (needs the CQL server)', () => {
  const keyspace = randomKeyspace('acks');
  let cold: CassandraColdStore;
  before(async () => {
    cold = await openCassandraColdStore({
      contactPoints: testCqlContactPoints(),
      localDataCenter: testCqlLocalDc(),
      keyspace,
      replicationFactor: 1,
      consistency: 'localQuorum',
      concurrency: 32,
    });
  });
  after(async () => {
    await cold.close();
    const admin = new cassandra.Client({ contactPoints: testCqlContactPoints(), localDataCenter: testCqlLocalDc() });
    await admin.connect();
    await admin.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
    await admin.shutdown();
  });

  describe('when the data dir is wiped after the acks', () => {
    it('should serve every acked id with its body from Scylla rows of segments never sealed or copied', async () => {
      // 1 KiB bodies: a commit's rows take several CQL batches.
      await wipedDiskScenario(cold, 120, 1024);
    });
  });
});
