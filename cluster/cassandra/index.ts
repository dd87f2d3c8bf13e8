// The Cassandra/ScyllaDB side of cluster/: a separate entry, so cassandra-driver loads only when a cluster is configured.
export {
  CassandraIdReservations,
  openCassandraIdReservations,
  type CassandraIdReservationsOptions,
} from './cassandra-id-reservations.js';
export { CassandraOwnershipStore } from './cassandra-ownership-store.js';
export {
  SERIAL_CONSISTENCIES,
  type CassandraOwnershipStoreOptions,
  type SerialConsistency,
} from './cassandra-ownership-options.js';
