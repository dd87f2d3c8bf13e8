import type cassandra from 'cassandra-driver';
import { checkKeyspace, keyspaceStatement } from '../../core/index.js';
import { applySchema } from './cql-schema.js';

/**
 * The ownership store's tables (cluster/README.md). Every row is keyed by the cluster's name first, so clusters can
 * share a keyspace. Members of a cluster are one CQL partition (listed in one read; rows go by TTL or leave()'s
 * DELETE). Each partition's ownership is its own CQL partition, so the LWTs on different partitions never contend
 * for one Paxos round.
 */
export function ownershipSchemaStatements(keyspace: string, replicationFactor: number, replication?: string): string[] {
  checkKeyspace(keyspace);
  return [
    keyspaceStatement(keyspace, replicationFactor, replication),
    `CREATE TABLE IF NOT EXISTS ${keyspace}.cluster_members (
       cluster text, member text, address text, started_at_ms bigint, heartbeat_at_ms bigint,
       PRIMARY KEY (cluster, member)
     ) WITH gc_grace_seconds = 10800`,
    `CREATE TABLE IF NOT EXISTS ${keyspace}.partition_owners (
       cluster text, partition_id int, owner text, epoch bigint, lease_until_ms bigint,
       PRIMARY KEY ((cluster, partition_id))
     )`,
  ];
}

/** Creates the keyspace and tables if missing, then waits (bounded) until every node agrees on the schema. */
export function createOwnershipSchema(
  client: cassandra.Client,
  keyspace: string,
  replicationFactor: number,
  replication?: string,
  timeoutMs?: number,
): Promise<void> {
  return applySchema(client, keyspace, ownershipSchemaStatements(keyspace, replicationFactor, replication), timeoutMs);
}
