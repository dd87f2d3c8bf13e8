import { hostname } from 'node:os';
import { ConfigError } from '../errors.js';
import type { BrokerConfig } from './broker-config.js';
import { DEFAULTS } from './defaults.js';
import { DEPENDENCY_CHECKS } from './dependency-security.js';
import { withSecretFiles } from './secret-files.js';
import { SETTING_KEYS, SETTING_SPECS, type SettingSpec } from './settings.js';

/** An environment: process.env, or process.env with the CLI's flags merged in under their variable names. */
export type ConfigEnv = Readonly<Record<string, string | undefined>>;

/** A rule across settings, checked after every variable has been read; returns the error when the rule is broken. */
type CrossCheck = (config: BrokerConfig) => ConfigError | undefined;

const CROSS_CHECKS: readonly CrossCheck[] = [
  // A certificate is served with its key; half a TLS setting would otherwise start a plaintext broker.
  (c) =>
    (c.tlsCert === undefined) !== (c.tlsKey === undefined)
      ? new ConfigError(
          c.tlsCert === undefined ? 'BROKER_TLS_KEY' : 'BROKER_TLS_CERT',
          'TLS needs both BROKER_TLS_CERT and BROKER_TLS_KEY',
        )
      : undefined,
  (c) =>
    c.tlsClientCa !== undefined && c.tlsCert === undefined
      ? new ConfigError(
          'BROKER_TLS_CLIENT_CA',
          'client certificates are checked only over TLS, so this needs BROKER_TLS_CERT and BROKER_TLS_KEY',
        )
      : undefined,
  // Members of a TLS cluster call each other over TLS: without a CA to check the others' certificates with, they
  // could trust any server that answers at a member's address.
  (c) =>
    c.tlsCert !== undefined && c.cluster !== undefined && (c.tlsPeerCa ?? c.tlsClientCa) === undefined
      ? new ConfigError(
          'BROKER_TLS_CERT',
          "a cluster with TLS checks the other members' certificates, so it needs BROKER_TLS_PEER_CA (or BROKER_TLS_CLIENT_CA)",
        )
      : undefined,
  (c) =>
    c.tlsPeerCa !== undefined && (c.tlsCert === undefined || c.cluster === undefined)
      ? new ConfigError(
          'BROKER_TLS_PEER_CA',
          'the peer CA checks the TLS certificates of the other members of a cluster, so it needs BROKER_CLUSTER and BROKER_TLS_CERT',
        )
      : undefined,
  // Local retention drops replicated segments only; without a cold tier nothing is ever replicated, so the limit
  // would silently never apply.
  (c) => {
    const variable =
      c.localRetentionMs > 0
        ? 'BROKER_LOCAL_RETENTION'
        : c.localRetentionBytes > 0
          ? 'BROKER_LOCAL_RETENTION_BYTES'
          : '';
    if (variable === '' || c.scyllaContactPoints.length > 0) return undefined;
    return new ConfigError(
      variable,
      'a local retention limit drops replicated segments, so it needs SCYLLA_CONTACT_POINTS (otherwise nothing is ever replicated)',
    );
  },
  // Membership and ownership live in ScyllaDB: a cluster without it would be brokers each believing it is alone.
  (c) =>
    c.cluster !== undefined && c.scyllaContactPoints.length === 0
      ? new ConfigError(
          'BROKER_CLUSTER',
          'a cluster keeps its membership in ScyllaDB, so it needs SCYLLA_CONTACT_POINTS',
        )
      : undefined,
  // Replicated acks are written to ScyllaDB: without it there is nowhere to replicate to.
  (c) =>
    c.acks === 'replicated' && c.scyllaContactPoints.length === 0
      ? new ConfigError('BROKER_ACKS', 'replicated acks are written to ScyllaDB, so they need SCYLLA_CONTACT_POINTS')
      : undefined,
  // A broker restarted on a wiped disk continues its ids above the reservations only a cluster keeps: without them it
  // would start at 1 again and its replicated records would be overwritten. A single broker is a cluster of one.
  (c) =>
    c.acks === 'replicated' && c.scyllaContactPoints.length > 0 && c.cluster === undefined
      ? new ConfigError(
          'BROKER_ACKS',
          'replicated acks need BROKER_CLUSTER (a single broker is a cluster of one): the id reservations a cluster keeps in ScyllaDB are what stop a broker on a wiped disk from reissuing ids over its replicated records',
        )
      : undefined,
  // The bound is on acks local's stream to ScyllaDB: set where nothing streams, it would silently bound nothing.
  (c) =>
    c.maxReplicationLagMs > 0 && (c.acks !== 'local' || c.scyllaContactPoints.length === 0)
      ? new ConfigError(
          'BROKER_MAX_REPLICATION_LAG',
          'bounds how far acks local run ahead of ScyllaDB, so it needs BROKER_ACKS=local and SCYLLA_CONTACT_POINTS',
        )
      : undefined,
  // An owner stops appending a drift (and a safety margin) before its lease ends and renews every third of it: a
  // drift above a quarter of the lease would leave it too little time to append between renewals.
  (c) =>
    c.maxClockDriftMs * 4 > c.leaseMs
      ? new ConfigError(
          'BROKER_MAX_CLOCK_DRIFT',
          `${c.maxClockDriftMs} ms is more than a quarter of BROKER_LEASE (${c.leaseMs} ms): raise the lease or lower the drift`,
        )
      : undefined,
  ...DEPENDENCY_CHECKS,
];

/**
 * Reads the configuration: every variable is parsed once by its setting's type (unset ones take DEFAULTS), then the
 * cross-field rules run. Throws a ConfigError that names the variable and the rule it breaks.
 */
export function loadConfig(env: ConfigEnv): BrokerConfig {
  const host = hostname();
  // The host name is the one default that is not a constant, so it goes through BROKER_ID's rule like a set value.
  // <NAME>_FILE variables (Kubernetes Secret mounts) are read first, so each value then goes through its own rule.
  const given = withSecretFiles(
    env,
    SETTING_KEYS.map((key) => SETTING_SPECS[key].env),
  );
  const source: ConfigEnv = { ...given, BROKER_ID: nonEmpty(given.BROKER_ID) ?? host };
  const defaults: BrokerConfig = { ...DEFAULTS, brokerId: host };
  const config: Partial<Record<keyof BrokerConfig, unknown>> = {};
  for (const key of SETTING_KEYS) config[key] = read(key, source, defaults);
  // Complete and well typed: SETTING_SPECS has a spec for every field, and each value came from that field's type.
  const loaded = config as BrokerConfig;
  for (const check of CROSS_CHECKS) {
    const error = check(loaded);
    if (error !== undefined) throw error;
  }
  return loaded;
}

function read<K extends keyof BrokerConfig>(key: K, env: ConfigEnv, defaults: BrokerConfig): BrokerConfig[K] {
  const spec: SettingSpec<BrokerConfig[K]> = SETTING_SPECS[key];
  const raw = env[spec.env];
  return raw === undefined ? defaults[key] : spec.type.parse(raw, spec.env);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
