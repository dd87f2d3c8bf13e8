// The Cassandra/ScyllaDB cold store: a separate entry, so cassandra-driver loads only when it is configured.
export { openCassandraColdStore, CassandraColdStore, type CassandraColdStoreOptions } from './cassandra-cold-store.js';
