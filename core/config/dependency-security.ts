import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { ConfigError } from '../errors.js';
import type { BrokerConfig } from './broker-config.js';

/** What an ioredis connection adds to REDIS_URL for an ACL user and a private CA (spread into its options). */
export interface RedisSecurity {
  readonly username?: string;
  readonly password?: string;
  /** TLS options; set only with REDIS_TLS_CA (a rediss:// URL alone uses TLS with the system's CAs). */
  readonly tls?: ConnectionOptions;
}

/** What a cassandra-driver Client adds for PasswordAuthenticator and client encryption (spread into its options). */
export interface CqlSecurity {
  readonly credentials?: { readonly username: string; readonly password: string };
  readonly sslOptions?: ConnectionOptions;
}

type RedisSettings = Pick<BrokerConfig, 'redisUsername' | 'redisPassword' | 'redisTlsCa'>;
type CqlSettings = Pick<BrokerConfig, 'scyllaUsername' | 'scyllaPassword' | 'scyllaTlsCa'>;

/** The Redis connection's credentials and CA; reads the CA file now, so call it where the connection is made. */
export function redisSecurity(config: RedisSettings): RedisSecurity {
  return {
    ...(config.redisUsername === undefined ? {} : { username: config.redisUsername }),
    ...(config.redisPassword === undefined ? {} : { password: config.redisPassword }),
    ...(config.redisTlsCa === undefined ? {} : { tls: { ca: readCa('REDIS_TLS_CA', config.redisTlsCa) } }),
  };
}

/**
 * The CQL clients' credentials and TLS options; every client the broker opens (cold tier, ownership, id
 * reservations) spreads the same object. The server's certificate is checked against the CA and the contact point's
 * name: cassandra-driver would otherwise accept any certificate (its default rejectUnauthorized is false).
 */
export function cqlSecurity(config: CqlSettings): CqlSecurity {
  const { scyllaUsername: username, scyllaPassword: password } = config;
  return {
    ...(username === undefined || password === undefined ? {} : { credentials: { username, password } }),
    ...(config.scyllaTlsCa === undefined
      ? {}
      : { sslOptions: { ca: readCa('SCYLLA_TLS_CA', config.scyllaTlsCa), rejectUnauthorized: true } }),
  };
}

function readCa(variable: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ConfigError(variable, `cannot read the CA file ${path} (${code})`, { cause: err });
  }
}

/** Rules across the dependency settings, run by loadConfig with the others. */
export const DEPENDENCY_CHECKS: ReadonlyArray<(c: BrokerConfig) => ConfigError | undefined> = [
  (c) =>
    c.redisTlsCa !== undefined && !(c.redisUrl ?? '').startsWith('rediss://')
      ? new ConfigError('REDIS_TLS_CA', 'a CA is used only over TLS, so REDIS_URL must start with rediss://')
      : undefined,
  // ioredis prefers the URL's credentials: both set would leave one of them silently unused.
  (c) =>
    (c.redisUsername !== undefined || c.redisPassword !== undefined) && urlHasCredentials(c.redisUrl)
      ? new ConfigError(
          c.redisPassword !== undefined ? 'REDIS_PASSWORD' : 'REDIS_USERNAME',
          'REDIS_URL carries credentials already: give them in the URL or in REDIS_USERNAME/REDIS_PASSWORD, not both',
        )
      : undefined,
  (c) =>
    c.redisUsername !== undefined && c.redisPassword === undefined
      ? new ConfigError('REDIS_USERNAME', 'a Redis ACL user needs REDIS_PASSWORD (or REDIS_PASSWORD_FILE)')
      : undefined,
  (c) =>
    (c.scyllaUsername === undefined) !== (c.scyllaPassword === undefined)
      ? new ConfigError(
          c.scyllaUsername === undefined ? 'SCYLLA_PASSWORD' : 'SCYLLA_USERNAME',
          'CQL authentication needs both SCYLLA_USERNAME and SCYLLA_PASSWORD (or SCYLLA_PASSWORD_FILE)',
        )
      : undefined,
];

function urlHasCredentials(url: string | undefined): boolean {
  if (url === undefined) return false;
  try {
    const parsed = new URL(url);
    return parsed.username !== '' || parsed.password !== '';
  } catch {
    return false;
  }
}

/**
 * The error to throw when a CQL client could not connect because the server refused its credentials or the TLS
 * handshake failed: a ConfigError naming the setting (a retry would not fix it, so the broker stops at start with
 * INVALID_CONFIG instead of retrying for ever); undefined for anything else (an outage: the caller's own error).
 * cassandra-driver reports a failed connect as NoHostAvailableError with each host's error in innerErrors.
 */
export function cqlRefusal(err: unknown, what: string): ConfigError | undefined {
  const inner = (err as { innerErrors?: Record<string, unknown> } | undefined)?.innerErrors;
  for (const cause of [err, ...Object.values(inner ?? {})]) {
    if (!(cause instanceof Error)) continue;
    if (cause.name === 'AuthenticationError') {
      return new ConfigError(
        'SCYLLA_PASSWORD',
        `${what}: the CQL server refused SCYLLA_USERNAME/SCYLLA_PASSWORD (${cause.message})`,
        { cause: err },
      );
    }
    const code = (cause as NodeJS.ErrnoException).code ?? '';
    if (TLS_CERTIFICATE_CODES.test(code)) {
      return new ConfigError(
        'SCYLLA_TLS_CA',
        `${what}: the CQL server's certificate does not check out against SCYLLA_TLS_CA and the contact point's name (${code}: ${cause.message})`,
        { cause: err },
      );
    }
  }
  return undefined;
}

// Node's codes for a certificate that does not verify (a wrong CA, a name not in it, an expired one).
const TLS_CERTIFICATE_CODES =
  /^(ERR_TLS_CERT_ALTNAME_INVALID|UNABLE_TO_|SELF_SIGNED_CERT|DEPTH_ZERO_SELF_SIGNED|CERT_)/;
