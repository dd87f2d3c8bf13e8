import type cassandra from 'cassandra-driver';
import { ConfigError, UnavailableError } from '../../core/index.js';

/** A keyspace name spliced into CQL text: lower case, at most 48 characters (Cassandra's limit). */
const KEYSPACE_PATTERN = /^[a-z][a-z0-9_]{0,47}$/;

export function checkKeyspace(keyspace: string): void {
  if (!KEYSPACE_PATTERN.test(keyspace))
    throw new ConfigError(
      'keyspace',
      `must be lower-case letters, digits and _ (at most 48), starting with a letter, got "${keyspace}"`,
    );
}

/**
 * The ownership store's tables (cluster/README.md). Every row is keyed by the cluster's name first, so clusters can
 * share a keyspace. Members of a cluster are one CQL partition (listed in one read; rows go by TTL or leave()'s
 * DELETE). Each partition's ownership is its own CQL partition, so the LWTs on different partitions never contend
 * for one Paxos round.
 */
export function ownershipSchemaStatements(keyspace: string, replicationFactor: number): string[] {
  checkKeyspace(keyspace);
  return [
    `CREATE KEYSPACE IF NOT EXISTS ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': ${replicationFactor}}`,
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

interface SchemaAgreement {
  checkSchemaAgreement(): Promise<boolean>;
}

/** Creates the keyspace and tables if missing, then waits (bounded) until every node agrees on the schema. */
export async function createOwnershipSchema(
  client: cassandra.Client,
  keyspace: string,
  replicationFactor: number,
  timeoutMs = 30_000,
): Promise<void> {
  for (const statement of ownershipSchemaStatements(keyspace, replicationFactor)) {
    await client.execute(statement, [], { prepare: false });
  }
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
