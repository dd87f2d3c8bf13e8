import assert from 'node:assert/strict';
import { test } from 'node:test';
import cassandra from 'cassandra-driver';
import { ConfigError } from '../../core/index.js';
import { randomKeyspace, testCqlContactPoints, testCqlLocalDc } from '../../test-support/services.js';
import { openCassandraColdStore, type CassandraColdStoreOptions } from './cassandra-cold-store.js';

// The cold tier creates the keyspace when it is the first to connect: with SCYLLA_REPLICATION's map, as the
// manifests set it (NetworkTopologyStrategy), not SimpleStrategy at the factor.
const options = (keyspace: string, replication: string): CassandraColdStoreOptions => ({
  contactPoints: testCqlContactPoints(),
  localDataCenter: testCqlLocalDc(),
  keyspace,
  replicationFactor: 1,
  replication,
  consistency: 'localQuorum',
  concurrency: 4,
});

test('the cold store creates its keyspace with the SCYLLA_REPLICATION map, and refuses what is not one', async () => {
  const keyspace = randomKeyspace('coldnts');
  const admin = new cassandra.Client({ contactPoints: testCqlContactPoints(), localDataCenter: testCqlLocalDc() });
  await admin.connect();
  try {
    const map = `{'class': 'NetworkTopologyStrategy', '${testCqlLocalDc()}': 1}`;
    await (await openCassandraColdStore(options(keyspace, map))).close();
    const rs = await admin.execute('SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?', [
      keyspace,
    ]);
    const replication = rs.first().get('replication') as Record<string, string>;
    assert.match(replication.class ?? '', /NetworkTopologyStrategy$/);
    assert.equal(replication[testCqlLocalDc()], '1');
    await assert.rejects(openCassandraColdStore(options(randomKeyspace('coldbad'), "{'class': 'Local'}")), ConfigError);
  } finally {
    await admin.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
    await admin.shutdown();
  }
});
