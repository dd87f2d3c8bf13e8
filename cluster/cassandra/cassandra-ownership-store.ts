import cassandra from 'cassandra-driver';
import {
  UNCLAIMED,
  UnavailableError,
  cqlRefusal,
  type ClusterMember,
  type OwnershipChange,
  type OwnershipStore,
  type OwnershipVersion,
  type PartitionOwnership,
} from '../../core/index.js';
import { checkLeaseMs, checkMemberId, checkPartition, checkTtlMs } from '../ownership-checks.js';
import {
  DEFAULT_READ_TIMEOUT_MS,
  checkOwnershipStoreOptions,
  type CassandraOwnershipStoreOptions,
} from './cassandra-ownership-options.js';
import { createOwnershipSchema } from './ownership-schema.js';

/** Partitions read per ownerships() query (an IN over partition keys: the coordinator fans it out). */
const PARTITIONS_PER_READ = 64;

type Params = unknown[];

/**
 * The OwnershipStore on ScyllaDB/Cassandra (cluster/README.md). Heartbeats are rows written `USING TTL`, so a member
 * that stops beating disappears by itself. Ownership changes are lightweight transactions: the condition is decided
 * by Paxos at the serial consistency, so of several members claiming one partition from the same row, exactly one
 * applies; an LWT that did not apply answers with the row's current values, read back at SERIAL when the answer
 * lacks some (Cassandra returns only the columns named in the condition).
 */
export class CassandraOwnershipStore implements OwnershipStore {
  private readonly ks: string;
  private readonly cluster: string;
  private readonly consistency: number;
  private readonly serial: number;
  private readonly now: () => number;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly client: cassandra.Client,
    private readonly options: CassandraOwnershipStoreOptions,
    private readonly ownsClient: boolean,
  ) {
    this.ks = options.keyspace;
    this.cluster = options.cluster;
    this.consistency = cassandra.types.consistencies[options.consistency];
    this.serial = cassandra.types.consistencies[options.serialConsistency ?? 'serial'];
    this.now = options.now ?? Date.now;
  }

  /**
   * Connects (or uses `client`, which close() then leaves open), creates the keyspace and tables if missing and
   * waits for schema agreement.
   */
  static async open(
    options: CassandraOwnershipStoreOptions,
    client?: cassandra.Client,
  ): Promise<CassandraOwnershipStore> {
    checkOwnershipStoreOptions(options);
    const cql = client ?? newClient(options);
    const where = options.contactPoints.join(',');
    try {
      await cql.connect();
      await createOwnershipSchema(cql, options.keyspace, options.replicationFactor, options.replication);
    } catch (err) {
      if (client === undefined) await cql.shutdown().catch(() => undefined);
      if (err instanceof UnavailableError) throw err;
      throw (
        cqlRefusal(err, 'ownership store') ??
        new UnavailableError(
          `ownership store: cannot open keyspace ${options.keyspace} on the CQL server at ${where}: ${(err as Error).message}`,
          { cause: err },
        )
      );
    }
    options.logger?.info(
      { contactPoints: where, keyspace: options.keyspace, cluster: options.cluster },
      'ownership store open',
    );
    return new CassandraOwnershipStore(cql, options, client === undefined);
  }

  async heartbeat(member: ClusterMember, ttlMs: number): Promise<void> {
    checkMemberId(member.id);
    checkTtlMs(ttlMs);
    await this.run(
      'heartbeat',
      `INSERT INTO ${this.ks}.cluster_members (cluster, member, address, started_at_ms, heartbeat_at_ms) VALUES (?, ?, ?, ?, ?) USING TTL ?`,
      [this.cluster, member.id, member.address, member.startedAtMs, this.now(), Math.ceil(ttlMs / 1000)],
    );
  }

  async leave(memberId: string): Promise<void> {
    await this.run('leave', `DELETE FROM ${this.ks}.cluster_members WHERE cluster = ? AND member = ?`, [
      this.cluster,
      memberId,
    ]);
  }

  async liveMembers(): Promise<ClusterMember[]> {
    const rs = await this.run(
      'list members',
      `SELECT member, address, started_at_ms FROM ${this.ks}.cluster_members WHERE cluster = ?`,
      [this.cluster],
    );
    // Clustering order is the member id's byte order, which is the contract's id order for ASCII ids.
    return rs.rows.map((row) => ({
      id: String(row.get('member')),
      address: String(row.get('address')),
      startedAtMs: toNumber(row.get('started_at_ms')),
    }));
  }

  async claim(partition: number, member: string, seen: OwnershipVersion, leaseMs: number): Promise<OwnershipChange> {
    this.check(partition);
    checkMemberId(member);
    checkLeaseMs(leaseMs);
    const next: PartitionOwnership = {
      partition,
      owner: member,
      epoch: seen.epoch + 1,
      leaseUntilMs: this.now() + leaseMs,
    };
    if (seen.epoch === UNCLAIMED.epoch) {
      return this.conditional(
        next,
        `INSERT INTO ${this.ks}.partition_owners (cluster, partition_id, owner, epoch, lease_until_ms) VALUES (?, ?, ?, ?, ?) IF NOT EXISTS`,
        [this.cluster, partition, member, next.epoch, next.leaseUntilMs],
      );
    }
    return this.conditional(
      next,
      `UPDATE ${this.ks}.partition_owners SET owner = ?, epoch = ?, lease_until_ms = ? WHERE cluster = ? AND partition_id = ? IF owner = ? AND epoch = ? AND lease_until_ms = ?`,
      [
        member,
        next.epoch,
        next.leaseUntilMs,
        this.cluster,
        partition,
        seen.owner ?? null,
        seen.epoch,
        seen.leaseUntilMs,
      ],
    );
  }

  async renew(partition: number, member: string, epoch: number, leaseMs: number): Promise<OwnershipChange> {
    this.check(partition);
    checkLeaseMs(leaseMs);
    const next: PartitionOwnership = { partition, owner: member, epoch, leaseUntilMs: this.now() + leaseMs };
    return this.conditional(
      next,
      `UPDATE ${this.ks}.partition_owners SET lease_until_ms = ? WHERE cluster = ? AND partition_id = ? IF owner = ? AND epoch = ?`,
      [next.leaseUntilMs, this.cluster, partition, member, epoch],
    );
  }

  async release(partition: number, member: string, epoch: number): Promise<OwnershipChange> {
    this.check(partition);
    const next: PartitionOwnership = { partition, owner: undefined, epoch, leaseUntilMs: 0 };
    return this.conditional(
      next,
      `UPDATE ${this.ks}.partition_owners SET owner = null, lease_until_ms = 0 WHERE cluster = ? AND partition_id = ? IF owner = ? AND epoch = ?`,
      [this.cluster, partition, member, epoch],
    );
  }

  /** Read at the serial consistency: sees every conditional update that has applied, also one still committing. */
  async ownership(partition: number): Promise<PartitionOwnership> {
    this.check(partition);
    const rs = await this.run(
      'read ownership',
      `SELECT partition_id, owner, epoch, lease_until_ms FROM ${this.ks}.partition_owners WHERE cluster = ? AND partition_id = ?`,
      [this.cluster, partition],
      this.serial,
    );
    const row = rs.first();
    return row === null ? { partition, ...UNCLAIMED } : toOwnership(partition, row);
  }

  async ownerships(): Promise<PartitionOwnership[]> {
    const reads: Array<Promise<cassandra.types.ResultSet>> = [];
    for (let from = 0; from < this.options.partitions; from += PARTITIONS_PER_READ) {
      const ids = Array.from(
        { length: Math.min(PARTITIONS_PER_READ, this.options.partitions - from) },
        (_, i) => from + i,
      );
      reads.push(
        this.run(
          'list ownerships',
          `SELECT partition_id, owner, epoch, lease_until_ms FROM ${this.ks}.partition_owners WHERE cluster = ? AND partition_id IN ?`,
          [this.cluster, ids],
        ),
      );
    }
    const rows = (await Promise.all(reads)).flatMap((rs) => rs.rows);
    return rows
      .map((row) => toOwnership(Number(row.get('partition_id')), row))
      .sort((a, b) => a.partition - b.partition);
  }

  /** Closes the driver's connections if the store opened them; idempotent. */
  close(): Promise<void> {
    this.closing ??= this.ownsClient ? this.client.shutdown() : Promise.resolve();
    return this.closing;
  }

  private check(partition: number): void {
    checkPartition(partition, this.options.partitions);
  }

  /** Runs an LWT; `next` is the row once it applied. */
  private async conditional(next: PartitionOwnership, cql: string, params: Params): Promise<OwnershipChange> {
    const rs = await this.run('conditional update', cql, params, undefined);
    const row = rs.first();
    if (row === null) throw new UnavailableError('ownership store: a conditional update returned no [applied] row');
    if (row.get('[applied]') === true) return { applied: true, current: next };
    const known = rs.columns.map((c) => c.name);
    const complete = ['owner', 'epoch', 'lease_until_ms'].every((name) => known.includes(name));
    // A missing row answers with null columns (or none): it is unclaimed.
    if (complete) return { applied: false, current: toOwnership(next.partition, row) };
    return { applied: false, current: await this.ownership(next.partition) };
  }

  private async run(
    what: string,
    cql: string,
    params: Params,
    consistency?: number,
  ): Promise<cassandra.types.ResultSet> {
    try {
      return await this.client.execute(cql, params, {
        prepare: true,
        consistency: consistency ?? this.consistency,
        serialConsistency: this.serial,
        // A retried LWT could apply twice from the driver's view (the first try applied, its answer was lost): the
        // caller learns the outcome from the row instead, so only plain writes and reads are retried.
        isIdempotent: !cql.includes(' IF '),
      });
    } catch (err) {
      throw new UnavailableError(`ownership store: ${what} failed: ${(err as Error).message}`, { cause: err });
    }
  }
}

function newClient(options: CassandraOwnershipStoreOptions): cassandra.Client {
  return new cassandra.Client({
    contactPoints: [...options.contactPoints],
    localDataCenter: options.localDataCenter,
    ...options.security,
    pooling: { coreConnectionsPerHost: { [cassandra.types.distance.local]: 1 } },
    socketOptions: { connectTimeout: 5000, readTimeout: options.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS },
    // Back within seconds of a CQL outage (the driver's default backs off to 10 minutes): a lease is seconds long.
    policies: { reconnection: new cassandra.policies.reconnection.ExponentialReconnectionPolicy(500, 5_000, false) },
  });
}

function toNumber(value: unknown): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'number' ? value : (value as cassandra.types.Long).toNumber();
}

function toOwnership(partition: number, row: cassandra.types.Row): PartitionOwnership {
  const owner: unknown = row.get('owner');
  const epoch: unknown = row.get('epoch');
  // An LWT on a missing row answers with null columns: no row, so unclaimed.
  if (epoch === null || epoch === undefined) return { partition, ...UNCLAIMED };
  return {
    partition,
    owner: typeof owner === 'string' ? owner : undefined,
    epoch: toNumber(epoch),
    leaseUntilMs: toNumber(row.get('lease_until_ms')),
  };
}
