import cassandra from 'cassandra-driver';
import type { Logger } from 'pino';
import {
  ConfigError,
  SCYLLA_CONSISTENCIES,
  UnavailableError,
  checkCqlReplication,
  cqlRefusal,
  type CqlSecurity,
  type IdReservation,
  type IdReservations,
  type ScyllaConsistency,
  type SettledHead,
  checkKeyspace,
} from '../../core/index.js';
import { createIdReservationsSchema } from './id-reservations-schema.js';

export interface CassandraIdReservationsOptions {
  /** host:port of CQL nodes (ScyllaDB in production, Cassandra in tests). */
  readonly contactPoints: readonly string[];
  /** The driver's local data center. @defaultValue 'datacenter1' (from the broker config) */
  readonly localDataCenter: string;
  /** CQL credentials and TLS (SCYLLA_USERNAME, SCYLLA_PASSWORD, SCYLLA_TLS_CA through cqlSecurity). @defaultValue none */
  readonly security?: CqlSecurity;
  /** Created at start if missing, shared with the broker's other tables; lower case, at most 48 characters. */
  readonly keyspace: string;
  /** Replication factor of the keyspace, used only when the store creates it (SimpleStrategy). @defaultValue 1 */
  readonly replicationFactor: number;
  /** SCYLLA_REPLICATION: the keyspace's CQL replication map when the store creates it, instead of the factor. */
  readonly replication?: string | undefined;
  /** BROKER_CLUSTER: the cluster's name; every row is keyed by it, so clusters may share a keyspace. */
  readonly cluster: string;
  /** Consistency of every write and read (a quorum on both sides makes a read see every acknowledged write). @defaultValue 'localQuorum' */
  readonly consistency: ScyllaConsistency;
  /**
   * BROKER_MAX_CLOCK_DRIFT: the most two members' clocks may differ, ms. settle() times its range tombstone by it, so
   * that no row the next owner writes can fall under it (see settle()). @defaultValue 500
   */
  readonly maxClockDriftMs?: number;
  /** How long a statement may take before the driver gives up, ms. @defaultValue 12000 */
  readonly readTimeoutMs?: number;
  readonly logger?: Logger;
}

const DEFAULT_READ_TIMEOUT_MS = 12_000;
const DEFAULT_MAX_CLOCK_DRIFT_MS = 500;
/** Subjects per CQL batch: one batch stays far below Cassandra's batch size warning (5 KiB) for short names. */
const BATCH_SUBJECTS = 32;
/** Rows per page when a partition's reservations are read. */
const PAGE_ROWS = 5000;

function checkOptions(o: CassandraIdReservationsOptions): void {
  if (o.contactPoints.length === 0)
    throw new ConfigError('contactPoints', 'the id reservations need at least one CQL contact point, got none');
  checkKeyspace(o.keyspace);
  if (o.cluster.trim() === '') throw new ConfigError('cluster', 'must not be empty');
  if (!Number.isInteger(o.replicationFactor) || o.replicationFactor < 1)
    throw new ConfigError('replicationFactor', `must be an integer >= 1, got ${o.replicationFactor}`);
  if (o.replication !== undefined) checkCqlReplication(o.replication);
  if (!SCYLLA_CONSISTENCIES.includes(o.consistency))
    throw new ConfigError(
      'consistency',
      `must be one of ${SCYLLA_CONSISTENCIES.join(', ')}, got "${String(o.consistency)}"`,
    );
}

/**
 * Id reservations on ScyllaDB (any CQL server). Never lowering a reservation is built into the table rather than
 * checked: a reservation is a row whose clustering key holds the number, and a reader takes the highest row. Raising
 * one writes, in one single-partition batch (atomic and isolated on every replica), the new row and a range
 * tombstone over the subject's lower rows. A concurrent or late lower write only adds a lower row (or deletes rows
 * below its own): no write can remove the highest row, since a tombstone only covers numbers below one written
 * with it. So no read before write and no lightweight transaction (a conditional `IF reserved_high < ?` needs a
 * Paxos round of four round trips, and a row inserted first: `IF NOT EXISTS`); retries are idempotent, and write
 * timestamps and clock skew do not matter to raising. Settling down (settle(), a clean hand-over) deletes higher
 * rows, so there they do: see settle().
 */
export class CassandraIdReservations implements IdReservations {
  private readonly ks: string;
  private readonly consistency: number;
  private closing: Promise<void> | undefined;
  /** The last write timestamp given (µs since the epoch): each write's is above it, on this member's clock. */
  private lastTimestampUs = 0;
  /** Per partition, the timestamp of the last reservation this instance raised (µs): settle()'s tombstone's. */
  private readonly raisedAtUs = new Map<number, number>();

  private constructor(
    private readonly client: cassandra.Client,
    private readonly options: CassandraIdReservationsOptions,
    /** Whether close() shuts the client down (false for a client the caller shares). */
    private readonly ownsClient: boolean,
  ) {
    this.ks = options.keyspace;
    this.consistency = cassandra.types.consistencies[options.consistency];
  }

  /**
   * Connects (or uses `client`, which close() then leaves open), creates the keyspace and table if missing and waits
   * for schema agreement.
   */
  static async open(
    options: CassandraIdReservationsOptions,
    client?: cassandra.Client,
  ): Promise<CassandraIdReservations> {
    checkOptions(options);
    const cql = client ?? createClient(options);
    try {
      await cql.connect();
      await createIdReservationsSchema(cql, options.keyspace, options.replicationFactor, options.replication);
    } catch (err) {
      if (client === undefined) await cql.shutdown().catch(() => undefined);
      if (err instanceof UnavailableError || err instanceof ConfigError) throw err;
      throw (
        cqlRefusal(err, 'id reservations') ??
        new UnavailableError(
          `id reservations: cannot open keyspace ${options.keyspace} on the CQL server at ${options.contactPoints.join(',')}: ${(err as Error).message}`,
          { cause: err },
        )
      );
    }
    options.logger?.info({ keyspace: options.keyspace, cluster: options.cluster }, 'id reservations open');
    return new CassandraIdReservations(cql, options, client === undefined);
  }

  async reserved(partition: number): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    try {
      const rs = await this.client.execute(
        `SELECT subject, reserved_high FROM ${this.ks}.id_reservations WHERE cluster = ? AND partition_id = ?`,
        [this.options.cluster, partition],
        { prepare: true, consistency: this.consistency, fetchSize: PAGE_ROWS, isIdempotent: true },
      );
      // The async iterator fetches the next pages as it goes.
      for await (const row of rs) {
        const subject = row.get('subject') as string;
        const high = toNumber(row.get('reserved_high'));
        if (high > (out.get(subject) ?? 0)) out.set(subject, high);
      }
    } catch (err) {
      throw new UnavailableError(`id reservations: reading partition ${partition} failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return out;
  }

  async reserve(partition: number, entries: readonly IdReservation[]): Promise<void> {
    const batches: Array<Promise<unknown>> = [];
    for (let i = 0; i < entries.length; i += BATCH_SUBJECTS)
      batches.push(this.reserveBatch(partition, entries.slice(i, i + BATCH_SUBJECTS)));
    const settled = await Promise.allSettled(batches);
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed === undefined) return;
    const cause = failed.reason as Error;
    throw new UnavailableError(
      `id reservations: raising ${entries.length} reservations of partition ${partition} failed: ${cause.message}`,
      { cause },
    );
  }

  /** One single-partition batch: per subject the new row, and a range tombstone over its lower rows. */
  private reserveBatch(partition: number, entries: readonly IdReservation[]): Promise<unknown> {
    const cluster = this.options.cluster;
    // Recorded before the write: it may land even if the call fails.
    const timestamp = this.nextTimestampUs();
    this.raisedAtUs.set(partition, Math.max(this.raisedAtUs.get(partition) ?? 0, timestamp));
    const queries: Array<{ query: string; params: unknown[] }> = [];
    for (const { subject, upTo } of entries) {
      queries.push({
        query: `INSERT INTO ${this.ks}.id_reservations (cluster, partition_id, subject, reserved_high) VALUES (?, ?, ?, ?)`,
        params: [cluster, partition, subject, upTo],
      });
      queries.push({
        query: `DELETE FROM ${this.ks}.id_reservations WHERE cluster = ? AND partition_id = ? AND subject = ? AND reserved_high < ?`,
        params: [cluster, partition, subject, upTo],
      });
    }
    return this.client.batch(queries, {
      prepare: true,
      logged: false,
      consistency: this.consistency,
      isIdempotent: true,
      timestamp,
    });
  }

  /**
   * Per subject, in one single-partition batch (per BATCH_SUBJECTS subjects): the row for lastId, and a range
   * tombstone over the subject's rows above it. Cell timestamps decide what a tombstone covers, and they come from
   * the members' clocks: the tombstone must cover this owner's rows above lastId (written at or before the last
   * reservation this instance raised for the partition) but no row the next owner writes. So it is timestamped with
   * that last raise, and the call first waits until this clock is maxClockDriftMs past it: the next owner writes only
   * after this member released the lease (after this call), when its clock, at most maxClockDriftMs behind this one,
   * is past the tombstone's. Without a raise by this instance (it restarted since), the tombstone is timestamped
   * maxClockDriftMs ago: a row of the previous process newer than that stays, which only keeps a crash's gap.
   * The row for lastId is timestamped now, above every tombstone this member wrote, so it stands.
   */
  async settle(partition: number, heads: readonly SettledHead[]): Promise<void> {
    const driftMs = this.options.maxClockDriftMs ?? DEFAULT_MAX_CLOCK_DRIFT_MS;
    const raised = this.raisedAtUs.get(partition);
    const waitMs = raised === undefined ? 0 : raised / 1000 + driftMs - Date.now();
    if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, Math.ceil(waitMs)));
    const tombstoneUs = raised ?? (Date.now() - driftMs) * 1000;
    const batches: Array<Promise<unknown>> = [];
    for (let i = 0; i < heads.length; i += BATCH_SUBJECTS)
      batches.push(this.settleBatch(partition, heads.slice(i, i + BATCH_SUBJECTS), tombstoneUs));
    const failed = (await Promise.allSettled(batches)).find((s) => s.status === 'rejected');
    if (failed === undefined) return;
    const cause = failed.reason as Error;
    throw new UnavailableError(
      `id reservations: settling ${heads.length} reservations of partition ${partition} failed: ${cause.message}`,
      { cause },
    );
  }

  private settleBatch(partition: number, heads: readonly SettledHead[], tombstoneUs: number): Promise<unknown> {
    const cluster = this.options.cluster;
    const rowUs = this.nextTimestampUs();
    const queries: Array<{ query: string; params: unknown[] }> = [];
    for (const { subject, lastId } of heads) {
      queries.push({
        query: `INSERT INTO ${this.ks}.id_reservations (cluster, partition_id, subject, reserved_high) VALUES (?, ?, ?, ?) USING TIMESTAMP ?`,
        params: [cluster, partition, subject, lastId, rowUs],
      });
      queries.push({
        query: `DELETE FROM ${this.ks}.id_reservations USING TIMESTAMP ? WHERE cluster = ? AND partition_id = ? AND subject = ? AND reserved_high > ?`,
        params: [tombstoneUs, cluster, partition, subject, lastId],
      });
    }
    return this.client.batch(queries, {
      prepare: true,
      logged: false,
      consistency: this.consistency,
      isIdempotent: true,
    });
  }

  /** A write timestamp (µs since the epoch) from this member's clock, above every one given before. */
  private nextTimestampUs(): number {
    this.lastTimestampUs = Math.max(Date.now() * 1000, this.lastTimestampUs + 1);
    return this.lastTimestampUs;
  }

  /** Shuts the client down, unless it was given (shared). */
  close(): Promise<void> {
    this.closing ??= this.ownsClient ? this.client.shutdown() : Promise.resolve();
    return this.closing;
  }
}

function createClient(options: CassandraIdReservationsOptions): cassandra.Client {
  return new cassandra.Client({
    contactPoints: [...options.contactPoints],
    localDataCenter: options.localDataCenter,
    ...options.security,
    socketOptions: { connectTimeout: 5000, readTimeout: options.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS },
    queryOptions: { prepare: true, consistency: cassandra.types.consistencies[options.consistency] },
    // Back within seconds of a CQL outage (the driver's default backs off to 10 minutes).
    policies: {
      reconnection: new cassandra.policies.reconnection.ExponentialReconnectionPolicy(500, 10_000, false),
    },
  });
}

function toNumber(value: unknown): number {
  return typeof value === 'number' ? value : (value as cassandra.types.Long).toNumber();
}

/** Opens the id reservations on the CQL server (see CassandraIdReservations.open). */
export function openCassandraIdReservations(
  options: CassandraIdReservationsOptions,
  client?: cassandra.Client,
): Promise<CassandraIdReservations> {
  return CassandraIdReservations.open(options, client);
}
