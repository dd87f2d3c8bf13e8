import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import cassandra from 'cassandra-driver';
import { randomKeyspace, testCqlContactPoints, testCqlLocalDc } from '../test-support/services.js';
import { openCassandraColdStore, type CassandraColdStore } from './cassandra/index.js';
import { wipedStreamedDisk } from './test-support/streamed-acks-scenario.js';

describe('BROKER_ACKS=local streamed to the CQL server (needs the CQL server)', () => {
  const keyspace = randomKeyspace('streamed');
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

  describe('when the data dir is wiped', () => {
    it('should lose at most the reported lag and serve every other acked id from Scylla rows of open segments', async () => {
      // 1 KiB bodies: a streamed write takes several CQL batches.
      const { lag, lost } = await wipedStreamedDisk(cold, 60, 5, 1024);
      assert.equal(lag, 10, 'the held records were the lag');
      assert.equal(lost, 10, 'and exactly those were lost');
    });
  });
});
