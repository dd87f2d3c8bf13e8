import { after, before, describe, it } from 'node:test';
import { dropKeyspace } from '../cluster/test-support/cql-reservations.js';
import { randomKeyspace } from '../test-support/services.js';
import type { CassandraColdStore } from './cassandra/index.js';
import { openTestColdStore } from './test-support/cql-cold-store.js';
import { wipedDiskScenario } from './test-support/replicated-acks-scenario.js';

describe('BROKER_ACKS=replicated on the CQL server (needs the CQL server)', () => {
  const keyspace = randomKeyspace('acks');
  let cold: CassandraColdStore;
  before(async () => {
    cold = await openTestColdStore(keyspace);
  });
  after(async () => {
    await cold.close();
    await dropKeyspace(keyspace);
  });

  describe('when the data dir is wiped after the acks', () => {
    it('should serve every acked id with its body from Scylla rows of segments never sealed or copied', async () => {
      // 1 KiB bodies: a commit's rows take several CQL batches.
      await wipedDiskScenario(cold, 120, 1024);
    });
  });
});
