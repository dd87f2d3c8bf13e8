import { ConfigError } from '../errors.js';

// The keyspace both the cold tier and the cluster's tables create: its name rule and its CREATE statement, here
// once since cluster/ and tiering/ may not import each other. SCYLLA_REPLICATION: the keyspace's CQL replication
// map, spliced into CREATE KEYSPACE. Only the two strategies and "'name': count" pairs are allowed, so nothing else can reach the
// statement. Unset, the keyspace is SimpleStrategy at SCYLLA_REPLICATION_FACTOR.

const STRATEGY = `'(?:org\\.apache\\.cassandra\\.locator\\.)?(?:SimpleStrategy|NetworkTopologyStrategy)'`;
const PAIR = `'[A-Za-z0-9_.-]{1,64}'\\s*:\\s*(?:[1-9]|'[1-9]')`;

/** A CQL replication map: {'class': 'NetworkTopologyStrategy', 'dc1': 3, ...} or {'class': 'SimpleStrategy', 'replication_factor': 3}. */
export const CQL_REPLICATION_PATTERN = new RegExp(
  `^\\{\\s*'class'\\s*:\\s*${STRATEGY}(?:\\s*,\\s*${PAIR}){1,16}\\s*\\}$`,
);

export const CQL_REPLICATION_SAYS =
  "must be a CQL replication map such as {'class': 'NetworkTopologyStrategy', 'datacenter1': 3}";

/** Throws ConfigError unless `replication` is a CQL replication map that may be spliced into CQL. */
export function checkCqlReplication(replication: string, variable = 'replication'): void {
  if (!CQL_REPLICATION_PATTERN.test(replication))
    throw new ConfigError(variable, `${CQL_REPLICATION_SAYS}, got "${replication}"`);
}

/** The replication map of CREATE KEYSPACE: `replication` as given (checked), else SimpleStrategy at `factor`. */
export function cqlReplication(factor: number, replication?: string): string {
  if (replication === undefined) return `{'class': 'SimpleStrategy', 'replication_factor': ${factor}}`;
  checkCqlReplication(replication);
  return replication;
}

/** A keyspace name spliced into CQL text: lower case, at most 48 characters (Cassandra's limit). */
export const KEYSPACE_PATTERN = /^[a-z][a-z0-9_]{0,47}$/;

/** Throws ConfigError unless the keyspace name may be spliced into CQL. */
export function checkKeyspace(keyspace: string): void {
  if (!KEYSPACE_PATTERN.test(keyspace))
    throw new ConfigError(
      'keyspace',
      `must be lower-case letters, digits and _ (at most 48), starting with a letter, got "${keyspace}"`,
    );
}

/**
 * CREATE KEYSPACE IF NOT EXISTS (the name checked). `replication` is the CQL map (checked: cqlReplication),
 * SimpleStrategy at `replicationFactor` when undefined. An existing keyspace keeps its own.
 */
export function keyspaceStatement(keyspace: string, replicationFactor: number, replication?: string): string {
  checkKeyspace(keyspace);
  return `CREATE KEYSPACE IF NOT EXISTS ${keyspace} WITH replication = ${cqlReplication(replicationFactor, replication)}`;
}
