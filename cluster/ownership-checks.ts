import { InvariantError } from '../core/index.js';

// The guards every OwnershipStore runs before touching its rows, so both implementations refuse the same calls.
// A bad argument here is a bug in the caller (the lease keeper), not user input: InvariantError.

/** A member id: BROKER_ID's characters, with `/` for a worker (`b0/w1`). */
const MEMBER_ID = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/;

export function checkMemberId(id: string): void {
  if (!MEMBER_ID.test(id))
    throw new InvariantError(`member id "${id}" must be 1-128 letters, digits, '.', '_', '-' or '/'`);
}

export function checkPartition(partition: number, partitions: number): void {
  if (!Number.isInteger(partition) || partition < 0 || partition >= partitions)
    throw new InvariantError(`partition ${partition} is outside [0, ${partitions})`);
}

export function checkLeaseMs(leaseMs: number): void {
  if (!Number.isSafeInteger(leaseMs) || leaseMs < 1)
    throw new InvariantError(`a lease of ${leaseMs} ms is not >= 1 ms`);
}

/** Heartbeat TTLs are whole seconds in CQL, so both stores take at least one second. */
export function checkTtlMs(ttlMs: number): void {
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1000)
    throw new InvariantError(`a heartbeat TTL of ${ttlMs} ms is not a whole number of ms >= 1000`);
}
