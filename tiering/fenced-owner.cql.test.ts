import { after, before, describe, it } from 'node:test';
import { openCassandraIdReservations, type CassandraIdReservations } from '../cluster/cassandra/index.js';
import { dropKeyspace, reservationsOptions } from '../cluster/test-support/cql-reservations.js';
import { randomKeyspace, testCqlContactPoints, testCqlLocalDc } from '../test-support/services.js';
import { openCassandraColdStore, type CassandraColdStore } from './cassandra/index.js';
import { fencedOwnerScenario } from './test-support/fenced-owner-scenario.js';

describe('a stale owner fenced by the epoch (reservations and cold tier on the CQL server)', () => {
  const keyspace = randomKeyspace('fenced');
  let cold: CassandraColdStore;
  let reservations: CassandraIdReservations;
  before(async () => {
    reservations = await openCassandraIdReservations(reservationsOptions(keyspace));
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
    await reservations.close();
    await dropKeyspace(keyspace);
  });

  it('should refuse its appends past its reservation NOT_OWNER, leave the new owner rows alone and give up', async () => {
    await fencedOwnerScenario({ reservations, cold }, 'orders');
  });
});
