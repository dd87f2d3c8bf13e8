// The public entry point of cluster/: membership, partition ownership with fenced leases, and id reservations, over
// the OwnershipStore and IdReservations contracts of core/ (issue 13; cluster/README.md). The Cassandra/Scylla
// implementations sit behind cluster/cassandra/index.ts, loaded lazily like the cold store's.
export { MemoryIdReservations } from './memory/memory-id-reservations.js';
export { MemoryOwnershipStore, type MemoryOwnershipStoreOptions } from './memory/memory-ownership-store.js';
export { placeOwner, placement, placementScore } from './placement.js';
export {
  LeaseKeeper,
  type Holding,
  type LeaseKeeperEvents,
  type LostReason,
  type PartitionOwner,
} from './lease-keeper.js';
export {
  DEFAULT_LEASE_MS,
  DEFAULT_MAX_CLOCK_DRIFT_MS,
  type HandOver,
  type LeaseKeeperOptions,
} from './lease-keeper-options.js';
