import type cassandra from 'cassandra-driver';
import { UnavailableError } from '../../core/index.js';

// The cluster's tables are created by applySchema; the keyspace's name rule and CREATE statement are core's
// (core/config/cql-replication.ts), shared with the cold tier.

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
