import type cassandra from 'cassandra-driver';
import { UnavailableError, keyspaceStatement } from '../../core/index.js';

/**
 * The cold tier's tables. Only TTLs delete rows (no DELETE statements), so a short gc_grace is safe: every replica
 * holds the same TTL and expires the row by itself.
 */
export function schemaStatements(keyspace: string, replicationFactor: number, replication?: string): string[] {
  return [
    keyspaceStatement(keyspace, replicationFactor, replication),
    `CREATE TABLE IF NOT EXISTS ${keyspace}.records (
       subject text, segment_base bigint, offset bigint,
       published_at_ms bigint, expiration_seconds int, body blob,
       PRIMARY KEY ((subject, segment_base), offset)
     ) WITH CLUSTERING ORDER BY (offset ASC) AND gc_grace_seconds = 10800`,
    `CREATE TABLE IF NOT EXISTS ${keyspace}.segments (
       subject text, base_offset bigint, last_offset bigint, count bigint, bytes bigint,
       PRIMARY KEY (subject, base_offset)
     ) WITH CLUSTERING ORDER BY (base_offset DESC) AND gc_grace_seconds = 10800`,
  ];
}

interface SchemaAgreement {
  checkSchemaAgreement(): Promise<boolean>;
}

/** Creates the keyspace and tables if missing, then waits (bounded) until every node agrees on the schema. */
export async function createSchema(
  client: cassandra.Client,
  keyspace: string,
  replicationFactor: number,
  replication?: string,
  timeoutMs = 30_000,
): Promise<void> {
  for (const statement of schemaStatements(keyspace, replicationFactor, replication)) {
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
