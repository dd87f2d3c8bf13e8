import cassandra from 'cassandra-driver';
import type { Logger } from 'pino';
import {
  ConfigError,
  FencedError,
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
  /** How long a statement may take before the driver gives up, ms. @defaultValue 12000 */
  readonly readTimeoutMs?: number;
  readonly logger?: Logger;
}

const DEFAULT_READ_TIMEOUT_MS = 12_000;
/**
 * Subjects per CQL batch: one batch stays far below Cassandra's batch size warning (5 KiB) for short names. A
 * call's batches are conditional updates of one CQL partition, so they run one after the other (concurrent LWTs on
 * one partition contend for its Paxos ballot).
 */
const BATCH_SUBJECTS = 32;
/** Attempts of fence() against concurrent fences of the same partition before it gives up (UnavailableError). */
const FENCE_ATTEMPTS = 5;

/** A statement of a batch. */
interface Query {
  readonly query: string;
  readonly params: unknown[];
}
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
 * Id reservations on ScyllaDB (any CQL server). Never lowering a reservation is built into the table: a
 * reservation is a row whose clustering key holds the number, and a reader takes the highest row. Raising one
 * writes, in one single-partition batch, the new row and a range tombstone over the subject's lower rows, so no
 * write can remove the highest row (a tombstone only covers numbers below one written with it) and no read before
 * write is needed.
 *
 * Fencing (core/id-reservations.ts) is the partition's static column fence_epoch, and every write is a lightweight
 * transaction on it: fence() raises it (`IF fence_epoch < ?`), and each reserve() and settle() batch is
 * conditional (`IF fence_epoch <= <its epoch>`), applied whole or not at all (a batch of one CQL partition). Paxos
 * orders them: a batch that applied before the new owner's fence is seen by that owner's read (its fence, a
 * Paxos round of the partition, first finishes any write of the partition still in flight), one after it is
 * refused. The price is a Paxos round (four round trips) per raise, which comes once per BROKER_ID_RESERVATION ids
 * per subject. A call of more than BATCH_SUBJECTS subjects is several batches, each whole: a call refused part way
 * had its earlier batches applied before the fence, where the new owner's read saw them.
 *
 * Since every write of the table is conditional, its cells carry Paxos ballot timestamps, which increase per CQL
 * partition in the order the writes applied: settle()'s range tombstone covers exactly the rows written before it,
 * never a row the next owner raises after it, whatever the members' clocks say.
 */
export class CassandraIdReservations implements IdReservations {
  private readonly ks: string;
  private readonly consistency: number;
  private readonly serial = cassandra.types.consistencies.serial;
  private closing: Promise<void> | undefined;

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
   * Connects (or uses `client`, which close() then leaves open), creates the keyspace and table if missing (adding
   * the fence column to a table of an older broker) and waits for schema agreement.
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
      // The async iterator fetches the next pages as it goes. The fence alone (a static row) has no subject.
      for await (const row of rs) {
        const subject = row.get('subject') as string | null;
        if (subject === null) continue;
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

  /**
   * `IF fence_epoch < epoch` (a missing fence compares as nothing: `IF fence_epoch = null` then), again with what
   * the refusal returned while another member's fence races this one.
   */
  async fence(partition: number, epoch: number): Promise<void> {
    const where = `WHERE cluster = ? AND partition_id = ?`;
    const key = [this.options.cluster, partition];
    let current: number | null = 0;
    for (let attempt = 0; attempt < FENCE_ATTEMPTS; attempt++) {
      const lower = current !== null;
      const fenced = await this.conditional('fencing', partition, [
        {
          query: `UPDATE ${this.ks}.id_reservations SET fence_epoch = ? ${where} IF fence_epoch ${lower ? '< ?' : '= null'}`,
          params: lower ? [epoch, ...key, epoch] : [epoch, ...key],
        },
      ]);
      if (fenced === 'applied') return;
      current = fenced;
      if (current === epoch) return;
      if (current !== null && current > epoch) throw new FencedError(partition, epoch, current);
    }
    throw new UnavailableError(`id reservations: fencing partition ${partition} at epoch ${epoch} kept racing`);
  }

  async reserve(partition: number, entries: readonly IdReservation[], epoch: number): Promise<void> {
    const cluster = this.options.cluster;
    await this.inBatches(partition, epoch, entries, 'raising', (query, { subject, upTo }) => {
      query(
        `INSERT INTO ${this.ks}.id_reservations (cluster, partition_id, subject, reserved_high) VALUES (?, ?, ?, ?)`,
        [cluster, partition, subject, upTo],
      );
      query(
        `DELETE FROM ${this.ks}.id_reservations WHERE cluster = ? AND partition_id = ? AND subject = ? AND reserved_high < ?`,
        [cluster, partition, subject, upTo],
      );
    });
  }

  /**
   * Per subject, in one conditional batch (per BATCH_SUBJECTS subjects): the row for lastId, and a range tombstone
   * over the subject's rows above it (the ballot orders it after every earlier raise and before any later one).
   */
  async settle(partition: number, heads: readonly SettledHead[], epoch: number): Promise<void> {
    const cluster = this.options.cluster;
    await this.inBatches(partition, epoch, heads, 'settling', (query, { subject, lastId }) => {
      query(
        `INSERT INTO ${this.ks}.id_reservations (cluster, partition_id, subject, reserved_high) VALUES (?, ?, ?, ?)`,
        [cluster, partition, subject, lastId],
      );
      query(
        `DELETE FROM ${this.ks}.id_reservations WHERE cluster = ? AND partition_id = ? AND subject = ? AND reserved_high > ?`,
        [cluster, partition, subject, lastId],
      );
    });
  }

  /**
   * Writes `items` in conditional batches of BATCH_SUBJECTS, one after the other, each `IF fence_epoch <= epoch`
   * (and raising a lower fence to the epoch, which only says what the epoch proves: an owner at it exists). A
   * partition never fenced has no fence to compare: it is fenced at the epoch, and the batch tried again.
   */
  private async inBatches<T>(
    partition: number,
    epoch: number,
    items: readonly T[],
    what: string,
    statements: (query: (query: string, params: unknown[]) => void, item: T) => void,
  ): Promise<void> {
    for (let i = 0; i < items.length; i += BATCH_SUBJECTS) {
      const queries: Query[] = [
        {
          query: `UPDATE ${this.ks}.id_reservations SET fence_epoch = ? WHERE cluster = ? AND partition_id = ? IF fence_epoch <= ?`,
          params: [epoch, this.options.cluster, partition, epoch],
        },
      ];
      for (const item of items.slice(i, i + BATCH_SUBJECTS))
        statements((query, params) => queries.push({ query, params }), item);
      let outcome = await this.conditional(`${what} ${items.length} reservations of`, partition, queries);
      if (outcome === null) {
        await this.fence(partition, epoch);
        outcome = await this.conditional(`${what} ${items.length} reservations of`, partition, queries);
      }
      if (outcome !== 'applied') throw new FencedError(partition, epoch, outcome ?? 0);
    }
  }

  /**
   * Runs a conditional update or batch of the partition: 'applied', or the fence it found (null: none). Retries are
   * safe (each write is idempotent, and a retry of one that applied meets the same fence).
   */
  private async conditional(what: string, partition: number, queries: Query[]): Promise<'applied' | number | null> {
    let rs: cassandra.types.ResultSet;
    try {
      const options = {
        prepare: true,
        consistency: this.consistency,
        serialConsistency: this.serial,
        isIdempotent: true,
      };
      const only = queries.length === 1 ? queries[0] : undefined;
      rs =
        only === undefined
          ? await this.client.batch(queries, { ...options, logged: false })
          : await this.client.execute(only.query, only.params, options);
    } catch (err) {
      throw new UnavailableError(`id reservations: ${what} partition ${partition} failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const row = rs.first();
    if (row === null) throw new UnavailableError(`id reservations: ${what} partition ${partition}: no [applied] row`);
    if (row.get('[applied]') === true) return 'applied';
    const fence: unknown = rs.columns.some((c) => c.name === 'fence_epoch') ? row.get('fence_epoch') : null;
    return fence === null || fence === undefined ? null : toNumber(fence);
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
