/**
 * Membership and partition ownership of a cluster of brokers (issue 13), kept in a store every member reaches
 * (ScyllaDB with lightweight transactions in production, memory in tests). The store owns two things:
 * - members: a heartbeat row per member that lives for a TTL, so a member that stops beating drops out by itself;
 * - ownership: per partition one row {owner, epoch, lease_until_ms}, changed only by compare-and-set, so for each
 *   epoch at most one member ever holds the partition. The epoch is the fencing token: it only grows, by one per
 *   successful claim; renewals and releases keep it.
 * It excludes deciding who should own what (placement), when to claim or renew (the lease keeper in cluster/),
 * and fencing the data itself (the writers of replicated rows check the epoch they were given).
 */

/** A member (a broker, or one worker of it) as its heartbeat row holds it. */
export interface ClusterMember {
  /** BROKER_ID, with the worker (`<id>/w<n>`) when a broker runs several. */
  readonly id: string;
  /** host:port other members reach it at (BROKER_ADVERTISE_ADDRESS). */
  readonly address: string;
  /** When this incarnation of the member started, ms since the epoch: tells a restarted member from the old one. */
  readonly startedAtMs: number;
}

/** One partition's ownership row. */
export interface PartitionOwnership {
  readonly partition: number;
  /** The owning member's id; undefined once released (the epoch stays). */
  readonly owner: string | undefined;
  /** 0 for a partition never claimed, then +1 per successful claim. */
  readonly epoch: number;
  /** Until when the owner may hold it, ms since the epoch by the owner's clock at claim or renewal; 0 when released. */
  readonly leaseUntilMs: number;
}

/** The ownership a partition has before its first claim (no row in the store). */
export const UNCLAIMED = { owner: undefined, epoch: 0, leaseUntilMs: 0 } as const;

/** The part of an ownership row a claim compares against: the row as the claimer last saw it. */
export type OwnershipVersion = Pick<PartitionOwnership, 'owner' | 'epoch' | 'leaseUntilMs'>;

/** The answer to a conditional change: whether it applied, and the row as it is now (after the change if it did). */
export interface OwnershipChange {
  readonly applied: boolean;
  /** The row as the store holds it; UNCLAIMED's values with the partition for one never claimed. */
  readonly current: PartitionOwnership;
}

export interface OwnershipStore {
  /** Writes (or refreshes) the member's heartbeat row, which the store forgets `ttlMs` later unless beaten again. */
  heartbeat(member: ClusterMember, ttlMs: number): Promise<void>;
  /** Removes the member's heartbeat row at once (a clean shutdown), so the others re-place its partitions now. */
  leave(memberId: string): Promise<void>;
  /** The members whose heartbeat has not expired, in id order. */
  liveMembers(): Promise<ClusterMember[]>;
  /**
   * Takes the partition for `member` with epoch `seen.epoch + 1` and a lease of `leaseMs` from now, only if the row
   * is still exactly `seen` (owner, epoch and lease: a renewal in between makes the claim fail). `seen` = UNCLAIMED
   * claims a partition that has no row yet. Deciding that `seen`'s lease has expired is the caller's job.
   */
  claim(partition: number, member: string, seen: OwnershipVersion, leaseMs: number): Promise<OwnershipChange>;
  /** Extends the lease to `leaseMs` from now, only if `member` still owns the partition at `epoch`. */
  renew(partition: number, member: string, epoch: number, leaseMs: number): Promise<OwnershipChange>;
  /** Gives the partition up (owner unset, lease 0, epoch kept), only if `member` still owns it at `epoch`. */
  release(partition: number, member: string, epoch: number): Promise<OwnershipChange>;
  /** One partition's row (UNCLAIMED's values when it has none). */
  ownership(partition: number): Promise<PartitionOwnership>;
  /** The rows of every partition that has one, in partition order. */
  ownerships(): Promise<PartitionOwnership[]>;
  close(): Promise<void>;
}
