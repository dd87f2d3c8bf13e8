import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../errors.js';
import { cqlReplication, keyspaceStatement } from './cql-replication.js';
import { loadConfig } from './load-config.js';

test('SCYLLA_REPLICATION takes a NetworkTopologyStrategy map; unset, the keyspace is SimpleStrategy at the factor', () => {
  const nts = "{'class': 'NetworkTopologyStrategy', 'datacenter1': 3, 'dc-2': '2'}";
  assert.equal(loadConfig({ SCYLLA_REPLICATION: nts }).scyllaReplication, nts);
  assert.equal(loadConfig({}).scyllaReplication, undefined);
  assert.equal(cqlReplication(3, undefined), "{'class': 'SimpleStrategy', 'replication_factor': 3}");
  assert.equal(cqlReplication(1, nts), nts);
});

test('SCYLLA_REPLICATION refuses anything but a replication map, since it is spliced into CQL', () => {
  for (const bad of [
    "{'class': 'NetworkTopologyStrategy'}",
    "{'class': 'LocalStrategy', 'dc1': 1}",
    "{'class': 'NetworkTopologyStrategy', 'dc1': 3}; DROP KEYSPACE broker",
    "{'class': 'NetworkTopologyStrategy', 'dc1': 0}",
    'datacenter1:3',
  ]) {
    assert.throws(() => loadConfig({ SCYLLA_REPLICATION: bad }), ConfigError, bad);
    assert.throws(() => cqlReplication(1, bad), ConfigError, bad);
  }
});

test('the keyspace statement splices only a checked name and map, for the cold tier and the cluster alike', () => {
  assert.equal(
    keyspaceStatement('broker_1', 3),
    "CREATE KEYSPACE IF NOT EXISTS broker_1 WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}",
  );
  for (const bad of ['Broker', '1broker', 'broker; DROP KEYSPACE x', 'b'.repeat(49), ''])
    assert.throws(() => keyspaceStatement(bad, 1), ConfigError, bad);
});
