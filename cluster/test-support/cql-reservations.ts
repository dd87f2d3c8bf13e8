import cassandra from 'cassandra-driver';
import { testCqlContactPoints, testCqlLocalDc } from '../../test-support/services.js';
import type { CassandraIdReservationsOptions } from '../cassandra/cassandra-id-reservations.js';

/** Options of id reservations on the test CQL server, in `keyspace` (a random one: drop it after). */
export const reservationsOptions = (keyspace: string, cluster = 'c1'): CassandraIdReservationsOptions => ({
  contactPoints: testCqlContactPoints(),
  localDataCenter: testCqlLocalDc(),
  keyspace,
  replicationFactor: 1,
  cluster,
  consistency: 'localQuorum',
});

export async function dropKeyspace(keyspace: string): Promise<void> {
  const admin = new cassandra.Client({ contactPoints: testCqlContactPoints(), localDataCenter: testCqlLocalDc() });
  await admin.connect();
  await admin.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
  await admin.shutdown();
}
