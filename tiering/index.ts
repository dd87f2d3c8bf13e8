// The public entry point of tiering/: replication of sealed segments and the tiered read path. The Cassandra cold
// store is a separate entry (./cassandra/index.js), loaded only when SCYLLA_CONTACT_POINTS asks for it.
export { Replicator } from './replicator.js';
export { Pacer } from './pacer.js';
export { createTieredReader } from './tiered-reader.js';
