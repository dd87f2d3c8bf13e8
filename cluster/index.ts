// The public entry point of cluster/: membership, partition ownership with fenced leases, and id reservations, over
// the ClusterStore contracts of core/ (issue 13). The Cassandra/Scylla implementations sit behind
// cluster/cassandra/index.ts, loaded lazily like the cold store's.
export { MemoryIdReservations } from './memory/memory-id-reservations.js';
