import type { Logger } from 'pino';
import {
  ConfigError,
  SCYLLA_CONSISTENCIES,
  checkCqlReplication,
  type CqlSecurity,
  type ScyllaConsistency,
  checkKeyspace,
} from '../../core/index.js';

/** The consistency of the Paxos phase of every conditional update (cassandra-driver's names). */
export const SERIAL_CONSISTENCIES = ['serial', 'localSerial'] as const;
export type SerialConsistency = (typeof SERIAL_CONSISTENCIES)[number];

export interface CassandraOwnershipStoreOptions {
  /** host:port of CQL nodes (ScyllaDB in production, Cassandra in tests). */
  readonly contactPoints: readonly string[];
  /** The driver's local data center. @defaultValue 'datacenter1' (from the broker config) */
  readonly localDataCenter: string;
  /** CQL credentials and TLS (SCYLLA_USERNAME, SCYLLA_PASSWORD, SCYLLA_TLS_CA through cqlSecurity). @defaultValue none */
  readonly security?: CqlSecurity;
  /** Created at start if missing, shared with the other tables of the broker; lower case, at most 48 characters. */
  readonly keyspace: string;
  /** Replication factor of the keyspace, used only when the store creates it (SimpleStrategy). @defaultValue 1 */
  readonly replicationFactor: number;
  /** SCYLLA_REPLICATION: the keyspace's CQL replication map when the store creates it, instead of the factor. */
  readonly replication?: string | undefined;
  /** BROKER_CLUSTER: the cluster's name; every row is keyed by it, so clusters may share a keyspace. */
  readonly cluster: string;
  /** The cluster's partition count (ownerships() reads the rows of partitions 0 .. partitions - 1). */
  readonly partitions: number;
  /**
   * Consistency of heartbeats, member and ownership listings, and the commit phase of the conditional updates.
   * @defaultValue 'localQuorum'
   */
  readonly consistency: ScyllaConsistency;
  /**
   * Consistency of the conditions (Paxos). 'serial' is linearizable across data centers; 'localSerial' only within
   * one, so two brokers in different data centers could both win a claim: use it only when every broker of the
   * cluster is in the local data center. @defaultValue 'serial'
   */
  readonly serialConsistency?: SerialConsistency;
  /** The clock leases are computed from, ms since the epoch (tests inject one). @defaultValue Date.now */
  readonly now?: () => number;
  /** How long a statement may take before the driver gives up, ms. @defaultValue 12000 */
  readonly readTimeoutMs?: number;
  readonly logger?: Logger;
}

export const DEFAULT_READ_TIMEOUT_MS = 12_000;

/** Rejects options the store cannot run with, naming the option. */
export function checkOwnershipStoreOptions(o: CassandraOwnershipStoreOptions): void {
  if (o.contactPoints.length === 0)
    throw new ConfigError('contactPoints', 'the ownership store needs at least one CQL contact point, got none');
  checkKeyspace(o.keyspace);
  if (o.cluster.trim() === '') throw new ConfigError('cluster', 'must not be empty');
  if (!Number.isInteger(o.partitions) || o.partitions < 1)
    throw new ConfigError('partitions', `must be an integer >= 1, got ${o.partitions}`);
  if (!Number.isInteger(o.replicationFactor) || o.replicationFactor < 1)
    throw new ConfigError('replicationFactor', `must be an integer >= 1, got ${o.replicationFactor}`);
  if (o.replication !== undefined) checkCqlReplication(o.replication);
  if (!SCYLLA_CONSISTENCIES.includes(o.consistency))
    throw new ConfigError(
      'consistency',
      `must be one of ${SCYLLA_CONSISTENCIES.join(', ')}, got "${String(o.consistency)}"`,
    );
  if (o.serialConsistency !== undefined && !SERIAL_CONSISTENCIES.includes(o.serialConsistency))
    throw new ConfigError(
      'serialConsistency',
      `must be one of ${SERIAL_CONSISTENCIES.join(', ')}, got "${String(o.serialConsistency)}"`,
    );
}
