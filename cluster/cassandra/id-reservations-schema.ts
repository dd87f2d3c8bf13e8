import type cassandra from 'cassandra-driver';
import { ConfigError, UnavailableError } from '../../core/index.js';

/** A keyspace name spliced into CQL text: lower case, at most 48 characters (Cassandra's limit). */
const KEYSPACE_PATTERN = /^[a-z][a-z0-9_]{0,47}$/;

export function checkReservationsKeyspace(keyspace: string): void {
  if (!KEYSPACE_PATTERN.test(keyspace))
    throw new ConfigError(
      'keyspace',
      `must be lower-case letters, digits and _ (at most 48), starting with a letter, got "${keyspace}"`,
    );
}

/**
 * The id reservations' table. One CQL partition per (cluster, log partition), so a partition's reservations are read
 * in one query and a reserve() call for one partition is a single-partition batch, which every replica applies
 * atomically and in isolation. Each reservation is a row of its own, (subject, reserved_high) being the clustering
 * key, never an updated cell: the value only grows without a read or a condition (see cassandra-id-reservations.ts).
 * The range tombstones that prune lower rows may be dropped early (gc_grace 1 h): a pruned row that comes back is
 * lower than the row kept, so it changes nothing.
 */
export function idReservationsSchemaStatements(keyspace: string, replicationFactor: number): string[] {
  checkReservationsKeyspace(keyspace);
  return [
    `CREATE KEYSPACE IF NOT EXISTS ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': ${replicationFactor}}`,
    `CREATE TABLE IF NOT EXISTS ${keyspace}.id_reservations (
       cluster text, partition_id int, subject text, reserved_high bigint,
       PRIMARY KEY ((cluster, partition_id), subject, reserved_high)
     ) WITH CLUSTERING ORDER BY (subject ASC, reserved_high DESC) AND gc_grace_seconds = 3600`,
  ];
}

interface SchemaAgreement {
  checkSchemaAgreement(): Promise<boolean>;
}

/** Creates the keyspace and table if missing, then waits (bounded) until every node agrees on the schema. */
export async function createIdReservationsSchema(
  client: cassandra.Client,
  keyspace: string,
  replicationFactor: number,
  timeoutMs = 30_000,
): Promise<void> {
  for (const statement of idReservationsSchemaStatements(keyspace, replicationFactor))
    await client.execute(statement, [], { prepare: false });
  // Typed by hand: the driver's metadata has the method but its .d.ts omits it.
  const metadata = client.metadata as unknown as SchemaAgreement;
  const deadline = Date.now() + timeoutMs;
  while (!(await metadata.checkSchemaAgreement())) {
    if (Date.now() > deadline)
      throw new UnavailableError(
        `the CQL nodes did not agree on the schema of keyspace ${keyspace} within ${timeoutMs} ms`,
      );
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
