import type cassandra from 'cassandra-driver';
import { checkKeyspace, keyspaceStatement } from '../../core/index.js';
import { applySchema } from './cql-schema.js';

/**
 * The id reservations' table. One CQL partition per (cluster, log partition), so a partition's reservations are read
 * in one query and a reserve() call for one partition is a single-partition batch, which every replica applies
 * atomically and in isolation. Each reservation is a row of its own, (subject, reserved_high) being the clustering
 * key, never an updated cell: the value only grows without a read or a condition (see cassandra-id-reservations.ts).
 * The range tombstones that prune lower rows may be dropped early (gc_grace 1 h): a pruned row that comes back is
 * lower than the row kept, so it changes nothing.
 */
export function idReservationsSchemaStatements(
  keyspace: string,
  replicationFactor: number,
  replication?: string,
): string[] {
  checkKeyspace(keyspace);
  return [
    keyspaceStatement(keyspace, replicationFactor, replication),
    `CREATE TABLE IF NOT EXISTS ${keyspace}.id_reservations (
       cluster text, partition_id int, subject text, reserved_high bigint,
       PRIMARY KEY ((cluster, partition_id), subject, reserved_high)
     ) WITH CLUSTERING ORDER BY (subject ASC, reserved_high DESC) AND gc_grace_seconds = 3600`,
  ];
}

/** Creates the keyspace and table if missing, then waits (bounded) until every node agrees on the schema. */
export function createIdReservationsSchema(
  client: cassandra.Client,
  keyspace: string,
  replicationFactor: number,
  replication?: string,
  timeoutMs?: number,
): Promise<void> {
  return applySchema(
    client,
    keyspace,
    idReservationsSchemaStatements(keyspace, replicationFactor, replication),
    timeoutMs,
  );
}
