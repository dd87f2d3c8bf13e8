import type cassandra from 'cassandra-driver';
import { ConfigError, UnavailableError, cqlReplication } from '../../core/index.js';

// What the cluster's tables share when they are created: the keyspace's name rule, its CREATE statement, and the
// wait for schema agreement. (tiering/cassandra/cql-schema.ts holds the cold tier's twin: the layering keeps
// cluster/ and tiering/ apart, each on core only.)

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
 * CREATE KEYSPACE IF NOT EXISTS, for a keyspace name already checked. `replication` is the CQL map (checked:
 * cqlReplication), SimpleStrategy at `replicationFactor` when undefined. An existing keyspace keeps its own.
 */
export function keyspaceStatement(keyspace: string, replicationFactor: number, replication?: string): string {
  return `CREATE KEYSPACE IF NOT EXISTS ${keyspace} WITH replication = ${cqlReplication(replicationFactor, replication)}`;
}

interface SchemaAgreement {
  checkSchemaAgreement(): Promise<boolean>;
}

/** Runs the statements (keyspace, tables), then waits (bounded) until every node agrees on the schema. */
export async function applySchema(
  client: cassandra.Client,
  keyspace: string,
  statements: readonly string[],
  timeoutMs = 30_000,
): Promise<void> {
  for (const statement of statements) await client.execute(statement, [], { prepare: false });
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
