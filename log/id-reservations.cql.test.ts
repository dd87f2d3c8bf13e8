import { openCassandraIdReservations } from '../cluster/cassandra/index.js';
import { dropKeyspace, reservationsOptions } from '../cluster/test-support/cql-reservations.js';
import { randomKeyspace } from '../test-support/services.js';
import { reservationScenarios } from './test-support/reservation-scenarios.js';

// The scenarios of id-reservations.test.ts with the reservations in the CQL server (ScyllaDB's stand-in).
reservationScenarios('CassandraIdReservations (needs the CQL server)', async () => {
  const keyspace = randomKeyspace('log_reservations');
  const store = await openCassandraIdReservations(reservationsOptions(keyspace));
  return {
    store,
    async dispose() {
      await store.close();
      await dropKeyspace(keyspace);
    },
  };
});
