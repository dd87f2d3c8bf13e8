import { testCqlContactPoints, testCqlLocalDc } from '../../test-support/services.js';
import { openCassandraColdStore, type CassandraColdStore } from '../cassandra/index.js';

/** A cold store on the test CQL server in `keyspace` (a random one: drop it after the tests). */
export function openTestColdStore(keyspace: string): Promise<CassandraColdStore> {
  return openCassandraColdStore({
    contactPoints: testCqlContactPoints(),
    localDataCenter: testCqlLocalDc(),
    keyspace,
    replicationFactor: 1,
    consistency: 'localQuorum',
    concurrency: 32,
  });
}
