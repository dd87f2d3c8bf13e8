// Configuration: DEFAULTS and the enums are the one source; SETTINGS, the loader, the CLI flags and the docs derive.
export * from './enums.js';
export * from './broker-config.js';
export * from './defaults.js';
export { formatDuration, parseDuration, type ValueType } from './value-types.js';
export * from './settings.js';
export * from './load-config.js';
export {
  CQL_REPLICATION_PATTERN,
  KEYSPACE_PATTERN,
  checkCqlReplication,
  checkKeyspace,
  cqlReplication,
  keyspaceStatement,
} from './cql-replication.js';
export { cqlRefusal, cqlSecurity, redisSecurity, type CqlSecurity, type RedisSecurity } from './dependency-security.js';
