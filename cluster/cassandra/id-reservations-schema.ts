import type cassandra from 'cassandra-driver';
import { checkKeyspace, keyspaceStatement } from '../../core/index.js';
import { applySchema } from './cql-schema.js';

/**
 * The id reservations' table. One CQL partition per (cluster, log partition), so a partition's reservations are read
 * in one query and a reserve() call for one partition is a single-partition batch, which every replica applies
 * atomically and in isolation. Each reservation is a row of its own, (subject, reserved_high) being the clustering
 * key, never an updated cell: the value only grows without a read or a condition (see cassandra-id-reservations.ts).
 * The range tombstones that prune lower rows may be dropped early (gc_grace 1 h): a pruned row that comes back is
 * lower than the row kept, so it changes nothing. fence_epoch, static (one per CQL partition), is the partition's
 * fence, which every write is conditional on; tables of brokers from before it get it added (addFenceColumn).
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
       cluster text, partition_id int, subject text, reserved_high bigint, fence_epoch bigint static,
       PRIMARY KEY ((cluster, partition_id), subject, reserved_high)
     ) WITH CLUSTERING ORDER BY (subject ASC, reserved_high DESC) AND gc_grace_seconds = 3600`,
  ];
}

/**
 * Creates the keyspace and table if missing and adds the fence column to a table created without it, then waits
 * (bounded) until every node agrees on the schema.
 */
export async function createIdReservationsSchema(
  client: cassandra.Client,
  keyspace: string,
  replicationFactor: number,
  replication?: string,
  timeoutMs?: number,
): Promise<void> {
  await applySchema(
    client,
    keyspace,
    idReservationsSchemaStatements(keyspace, replicationFactor, replication),
    timeoutMs,
  );
  if (await addFenceColumn(client, keyspace)) await applySchema(client, keyspace, [], timeoutMs);
}

/**
 * ALTER TABLE ... ADD fence_epoch when the table (of a broker from before fencing) lacks it; resolves whether it
 * altered. Another member adding it at the same moment is no failure ("already exists" on Cassandra, "conflicts
 * with an existing column" on ScyllaDB; ADD IF NOT EXISTS is Cassandra 4.1+ only).
 */
export async function addFenceColumn(client: cassandra.Client, keyspace: string): Promise<boolean> {
  const table = await client.metadata.getTable(keyspace, 'id_reservations');
  if (table !== null && table.columnsByName['fence_epoch'] !== undefined) return false;
  try {
    await client.execute(`ALTER TABLE ${keyspace}.id_reservations ADD fence_epoch bigint static`, [], {
      prepare: false,
    });
  } catch (err) {
    if (!/already exist|conflicts with an existing column/i.test((err as Error).message)) throw err;
  }
  return true;
}
