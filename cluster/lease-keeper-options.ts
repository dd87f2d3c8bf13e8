import type { Logger } from 'pino';
import { ConfigError, DEFAULTS, type ClusterMember, type OwnershipStore } from '../core/index.js';

/** BROKER_LEASE's default (core/config): how long a claim or renewal holds a partition. */
export const DEFAULT_LEASE_MS = DEFAULTS.leaseMs;
/** BROKER_MAX_CLOCK_DRIFT's default (core/config): the most any two members' clocks may differ. */
export const DEFAULT_MAX_CLOCK_DRIFT_MS = DEFAULTS.maxClockDriftMs;

/** What the keeper calls before releasing a partition placement gives to another member. */
export type HandOver = (partition: number, epoch: number) => Promise<void>;

export interface LeaseKeeperOptions {
  readonly store: OwnershipStore;
  /** This member: its id (BROKER_ID, or `<id>/w<n>`), advertise address and start time. */
  readonly member: ClusterMember;
  /** The cluster's partition count (placement spreads partitions 0 .. partitions - 1). */
  readonly partitions: number;
  /** BROKER_LEASE, ms: how long a claim or renewal holds a partition. @defaultValue 10000 */
  readonly leaseMs?: number;
  /**
   * BROKER_MAX_CLOCK_DRIFT, ms: the most any two members' clocks may differ (an assumption, not measured: NTP keeps
   * it to milliseconds). An owner stops appending this long before its lease ends, and a claimer waits this long
   * after it. @defaultValue 500
   */
  readonly maxClockDriftMs?: number;
  /** ms between rounds (heartbeat, renewals, claims, hand-overs). @defaultValue leaseMs / 3 */
  readonly renewEveryMs?: number;
  /**
   * ms an owner stops appending before `lease end - maxClockDriftMs`: the longest an append decided by canAppend()
   * may take to be written (a group commit). @defaultValue leaseMs / 10
   */
  readonly safetyMs?: number;
  /** ms a heartbeat keeps this member live (at least 1000; CQL rounds it up to whole seconds). @defaultValue leaseMs */
  readonly memberTtlMs?: number;
  /**
   * Called once a partition is placed on another live member, before it is released; appends are refused
   * (canAppend() is false) from the moment it is called. The lease is renewed meanwhile. When it resolves, the
   * partition is released and the new owner may claim it; when it rejects, the partition serves again and the
   * hand-over is tried in the next round. @defaultValue resolves at once
   */
  readonly handOver?: HandOver;
  /** This member's clock, ms since the epoch; the store must use the same one. @defaultValue Date.now */
  readonly now?: () => number;
  readonly logger?: Logger;
}

/** The options with every default filled in. */
export type ResolvedLeaseKeeperOptions = Required<Omit<LeaseKeeperOptions, 'logger'>> &
  Pick<LeaseKeeperOptions, 'logger'>;

function positive(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new ConfigError(name, `must be a whole number of ms >= 0, got ${value}`);
  return value;
}

/** Fills in the defaults and rejects timings under which an owner could not keep appending between two rounds. */
export function resolveLeaseKeeperOptions(o: LeaseKeeperOptions): ResolvedLeaseKeeperOptions {
  const leaseMs = positive('leaseMs', o.leaseMs ?? DEFAULT_LEASE_MS);
  const resolved: ResolvedLeaseKeeperOptions = {
    ...o,
    leaseMs,
    maxClockDriftMs: positive('maxClockDriftMs', o.maxClockDriftMs ?? DEFAULT_MAX_CLOCK_DRIFT_MS),
    renewEveryMs: positive('renewEveryMs', o.renewEveryMs ?? Math.floor(leaseMs / 3)),
    safetyMs: positive('safetyMs', o.safetyMs ?? Math.floor(leaseMs / 10)),
    memberTtlMs: positive('memberTtlMs', o.memberTtlMs ?? Math.max(1000, leaseMs)),
    handOver: o.handOver ?? (async () => undefined),
    now: o.now ?? Date.now,
  };
  if (!Number.isInteger(o.partitions) || o.partitions < 1)
    throw new ConfigError('partitions', `must be an integer >= 1, got ${o.partitions}`);
  if (resolved.renewEveryMs < 1) throw new ConfigError('renewEveryMs', 'must be at least 1 ms');
  const window = leaseMs - resolved.maxClockDriftMs - resolved.safetyMs;
  if (resolved.renewEveryMs >= window)
    throw new ConfigError(
      'leaseMs',
      `a lease of ${leaseMs} ms leaves ${window} ms to append after a renewal (lease - max clock drift ${resolved.maxClockDriftMs} ms - safety ${resolved.safetyMs} ms), not more than the ${resolved.renewEveryMs} ms between renewals: raise the lease or lower the drift`,
    );
  if (resolved.memberTtlMs < 1000 || resolved.memberTtlMs <= resolved.renewEveryMs)
    throw new ConfigError(
      'memberTtlMs',
      `must be at least 1000 ms and above renewEveryMs (${resolved.renewEveryMs} ms), got ${resolved.memberTtlMs}`,
    );
  return resolved;
}
