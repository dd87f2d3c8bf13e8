import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import cassandra from 'cassandra-driver';
import { ConfigError } from '../../core/index.js';
import { randomKeyspace, randomName, testCqlContactPoints, testCqlLocalDc } from '../../test-support/services.js';
import { CassandraOwnershipStore } from './cassandra-ownership-store.js';
import { openCassandraIdReservations } from './cassandra-id-reservations.js';

// The manifests set SCYLLA_REPLICATION to a NetworkTopologyStrategy map: the keyspace the cluster's stores create
// must have exactly that replication, not SimpleStrategy at SCYLLA_REPLICATION_FACTOR.
let client: cassandra.Client | undefined;
const keyspaces: string[] = [];

before(async () => {
  client = new cassandra.Client({ contactPoints: testCqlContactPoints(), localDataCenter: testCqlLocalDc() });
  await client.connect();
});

after(async () => {
  for (const keyspace of keyspaces) await client?.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
  await client?.shutdown();
});

function options(keyspace: string, replication: string | undefined) {
  return {
    contactPoints: testCqlContactPoints(),
    localDataCenter: testCqlLocalDc(),
    keyspace,
    replicationFactor: 1,
    replication,
    cluster: randomName('cluster'),
    partitions: 4,
    consistency: 'localQuorum' as const,
    maxClockDriftMs: 500,
  };
}

async function replicationOf(keyspace: string): Promise<Record<string, string>> {
  const rs = await client?.execute('SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?', [
    keyspace,
  ]);
  const row = rs?.first();
  assert.ok(row, `keyspace ${keyspace} was not created`);
  return row.get('replication') as Record<string, string>;
}

test('the ownership store creates its keyspace with the SCYLLA_REPLICATION map (NetworkTopologyStrategy)', async () => {
  const keyspace = randomKeyspace('nts');
  keyspaces.push(keyspace);
  const map = `{'class': 'NetworkTopologyStrategy', '${testCqlLocalDc()}': 1}`;
  const store = await CassandraOwnershipStore.open(options(keyspace, map), client);
  await store.close();
  const replication = await replicationOf(keyspace);
  assert.match(replication.class ?? '', /NetworkTopologyStrategy$/);
  assert.equal(replication[testCqlLocalDc()], '1');
});

test('the id reservations create theirs the same way, and SimpleStrategy at the factor when the map is unset', async () => {
  const nts = randomKeyspace('nts');
  const simple = randomKeyspace('simple');
  keyspaces.push(nts, simple);
  const map = `{'class': 'NetworkTopologyStrategy', '${testCqlLocalDc()}': 1}`;
  await (await openCassandraIdReservations(options(nts, map), client)).close();
  await (await openCassandraIdReservations(options(simple, undefined), client)).close();
  assert.match((await replicationOf(nts)).class ?? '', /NetworkTopologyStrategy$/);
  assert.match((await replicationOf(simple)).class ?? '', /SimpleStrategy$/);
});

test('a replication map that is not one is refused before any CQL runs', async () => {
  const bad = options(randomKeyspace('bad'), "{'class': 'NetworkTopologyStrategy', 'dc1': 1}; DROP TABLE x");
  await assert.rejects(CassandraOwnershipStore.open(bad, client), ConfigError);
  await assert.rejects(openCassandraIdReservations(bad, client), ConfigError);
});
