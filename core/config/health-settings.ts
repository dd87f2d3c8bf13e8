import { integer, optionalText } from './value-types.js';

/**
 * BROKER_HEALTH_PORT and BROKER_HEALTH_HOST, spread into SETTING_SPECS after the metrics endpoint's (whose mapped
 * type checks them against BrokerConfig): the probe port of a broker whose gRPC port requires TLS or a token.
 */
export const HEALTH_SETTING_SPECS = {
  healthPort: {
    env: 'BROKER_HEALTH_PORT',
    type: integer(-1, 65535),
    help: "plaintext port serving only grpc.health.v1, with the gRPC port's statuses, for probes that cannot speak TLS or send a token (0 = any free port, -1 = off)",
  },
  healthHost: {
    env: 'BROKER_HEALTH_HOST',
    // As settings.ts's ANY_TEXT: empty means unset.
    type: optionalText({ pattern: /^\S(.*\S)?$/s, says: 'must not start or end with white space' }),
    help: "address the health port binds (e.g. the pod's IP; unset = BROKER_GRPC_HOST)",
  },
} as const;
