import { openCassandraIdReservations } from '../../cluster/cassandra/index.js';
import { dropKeyspace, reservationsOptions } from '../../cluster/test-support/cql-reservations.js';
import { randomKeyspace } from '../../test-support/services.js';
import { handOverScenarios } from '../test-support/handover-scenarios.js';

// The scenarios of settle.test.ts with the reservations in the CQL server (ScyllaDB's stand-in).
handOverScenarios('CassandraIdReservations (needs the CQL server)', async () => {
  const keyspace = randomKeyspace('log_settle');
  const store = await openCassandraIdReservations(reservationsOptions(keyspace));
  return {
    store,
    async dispose() {
      await store.close();
      await dropKeyspace(keyspace);
    },
  };
});
