import { after, before, describe, it } from 'node:test';
import { openCassandraIdReservations, type CassandraIdReservations } from '../cluster/cassandra/index.js';
import { dropKeyspace, reservationsOptions } from '../cluster/test-support/cql-reservations.js';
import { randomKeyspace } from '../test-support/services.js';
import type { CassandraColdStore } from './cassandra/index.js';
import { openTestColdStore } from './test-support/cql-cold-store.js';
import { fencedOwnerScenario } from './test-support/fenced-owner-scenario.js';

describe('a stale owner fenced by the epoch (reservations and cold tier on the CQL server)', () => {
  const keyspace = randomKeyspace('fenced');
  let cold: CassandraColdStore;
  let reservations: CassandraIdReservations;
  before(async () => {
    reservations = await openCassandraIdReservations(reservationsOptions(keyspace));
    cold = await openTestColdStore(keyspace);
  });
  after(async () => {
    await cold.close();
    await reservations.close();
    await dropKeyspace(keyspace);
  });

  it('should refuse its appends past its reservation NOT_OWNER, leave the new owner rows alone and give up', async () => {
    await fencedOwnerScenario({ reservations, cold }, 'orders');
  });
});
