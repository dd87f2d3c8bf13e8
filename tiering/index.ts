// The public entry point of tiering/: replication of sealed segments and the tiered read path. It never loads
// cassandra-driver: the Cassandra cold store is a separate entry (./cassandra/index.js), imported only when
// SCYLLA_CONTACT_POINTS asks for it (see README.md).
export { Replicator } from './replicator.js';
export type { ReplicationObserver } from './replication-observer.js';
export { Pacer } from './pacer.js';
export { createTieredReader } from './tiered-reader.js';
export { ColdTier, type ColdTierOptions } from './cold-tier.js';
