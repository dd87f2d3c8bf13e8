import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { dropKeyspace } from '../cluster/test-support/cql-reservations.js';
import { randomKeyspace } from '../test-support/services.js';
import type { CassandraColdStore } from './cassandra/index.js';
import { openTestColdStore } from './test-support/cql-cold-store.js';
import { wipedStreamedDisk } from './test-support/streamed-acks-scenario.js';

describe('BROKER_ACKS=local streamed to the CQL server (needs the CQL server)', () => {
  const keyspace = randomKeyspace('streamed');
  let cold: CassandraColdStore;
  before(async () => {
    cold = await openTestColdStore(keyspace);
  });
  after(async () => {
    await cold.close();
    await dropKeyspace(keyspace);
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
