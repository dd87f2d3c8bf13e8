import { duration } from './value-types.js';

/**
 * BROKER_MAX_REPLICATION_LAG, spread into SETTING_SPECS after BROKER_ACKS (whose mapped type checks it against
 * BrokerConfig): the bound on how far acks local may run ahead of the cold tier (README "Ack modes").
 */
export const REPLICATION_SETTING_SPECS = {
  maxReplicationLagMs: {
    env: 'BROKER_MAX_REPLICATION_LAG',
    type: duration(),
    help: 'acks local with a cold tier: publishes answer UNAVAILABLE while the records not yet streamed to ScyllaDB are older than this (0 = never)',
  },
} as const;
