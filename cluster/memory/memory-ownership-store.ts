import {
  UNCLAIMED,
  type ClusterMember,
  type OwnershipChange,
  type OwnershipStore,
  type OwnershipVersion,
  type PartitionOwnership,
} from '../../core/index.js';
import { checkLeaseMs, checkMemberId, checkPartition, checkTtlMs } from '../ownership-checks.js';

export interface MemoryOwnershipStoreOptions {
  /** The cluster's partition count: a partition outside [0, partitions) is refused. */
  readonly partitions: number;
  /** The clock for heartbeat TTLs and leases, ms since the epoch (tests inject a fake one). @defaultValue Date.now */
  readonly now?: () => number;
}

interface Heartbeat {
  readonly member: ClusterMember;
  readonly expiresAtMs: number;
}

/**
 * The OwnershipStore in one process's memory: what the Cassandra store does with LWTs, done with plain compares
 * (a JavaScript turn is atomic). For tests of what sits on the contract, and brokers of one process; the
 * conformance suite (cluster/test-support/ownership-store-contract.ts) holds it to the Cassandra store's behaviour.
 */
export class MemoryOwnershipStore implements OwnershipStore {
  private readonly members = new Map<string, Heartbeat>();
  private readonly rows = new Map<number, PartitionOwnership>();
  private readonly now: () => number;
  private readonly partitions: number;

  constructor(options: MemoryOwnershipStoreOptions) {
    this.partitions = options.partitions;
    this.now = options.now ?? Date.now;
  }

  async heartbeat(member: ClusterMember, ttlMs: number): Promise<void> {
    checkMemberId(member.id);
    checkTtlMs(ttlMs);
    this.members.set(member.id, { member: { ...member }, expiresAtMs: this.now() + ttlMs });
  }

  async leave(memberId: string): Promise<void> {
    this.members.delete(memberId);
  }

  async liveMembers(): Promise<ClusterMember[]> {
    const now = this.now();
    return [...this.members.values()]
      .filter((h) => h.expiresAtMs > now)
      .map((h) => h.member)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async claim(partition: number, member: string, seen: OwnershipVersion, leaseMs: number): Promise<OwnershipChange> {
    checkPartition(partition, this.partitions);
    checkMemberId(member);
    checkLeaseMs(leaseMs);
    const current = this.row(partition);
    const same =
      current.owner === seen.owner && current.epoch === seen.epoch && current.leaseUntilMs === seen.leaseUntilMs;
    if (!same) return { applied: false, current };
    return this.write({ partition, owner: member, epoch: seen.epoch + 1, leaseUntilMs: this.now() + leaseMs });
  }

  async renew(partition: number, member: string, epoch: number, leaseMs: number): Promise<OwnershipChange> {
    checkPartition(partition, this.partitions);
    checkLeaseMs(leaseMs);
    const current = this.row(partition);
    if (current.owner !== member || current.epoch !== epoch) return { applied: false, current };
    return this.write({ ...current, leaseUntilMs: this.now() + leaseMs });
  }

  async release(partition: number, member: string, epoch: number): Promise<OwnershipChange> {
    checkPartition(partition, this.partitions);
    const current = this.row(partition);
    if (current.owner !== member || current.epoch !== epoch) return { applied: false, current };
    return this.write({ partition, owner: undefined, epoch, leaseUntilMs: 0 });
  }

  async ownership(partition: number): Promise<PartitionOwnership> {
    checkPartition(partition, this.partitions);
    return this.row(partition);
  }

  async ownerships(): Promise<PartitionOwnership[]> {
    return [...this.rows.values()].sort((a, b) => a.partition - b.partition);
  }

  async close(): Promise<void> {}

  private row(partition: number): PartitionOwnership {
    return this.rows.get(partition) ?? { partition, ...UNCLAIMED };
  }

  private write(row: PartitionOwnership): OwnershipChange {
    this.rows.set(row.partition, row);
    return { applied: true, current: row };
  }
}
