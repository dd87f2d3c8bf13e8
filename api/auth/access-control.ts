import type { Metadata } from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { UnauthenticatedError } from '../../core/index.js';
import type { IdentitySpec, RateSpec } from './auth-file-schema.js';
import { readAuthFile } from './auth-file.js';
import { AccessRules, type Identity } from './access-rules.js';
import { Caller, type DenialLog, type IdentityLimits } from './caller.js';
import { JwtVerifier } from './jwt-verifier.js';
import { RateLimit, type QuotaLimit } from './token-bucket.js';

/** Makes the limit of one quota: `key` is `<identity>/publish` or `<identity>/delivery`. */
export type LimitFactory = (key: string, rate: RateSpec) => QuotaLimit;

export interface AccessControlOptions {
  /** BROKER_AUTH_FILE. */
  readonly path: string;
  readonly registry: Registry;
  readonly logger: Pick<Logger, 'warn' | 'info' | 'error'>;
  /** @defaultValue buckets of this process (RateLimit); a worker of several leases from the primary instead. */
  readonly limits?: LimitFactory;
}

/** What grpc-js says of a call's connection (call.getAuthContext()): the client certificate under mTLS. */
export interface PeerAuth {
  readonly sslPeerCertificate?: PeerCertificate | undefined;
}

/** What one reading of the auth file gives: the rules, the JWT verifier when the file has a `jwt` section, and
 * the limits of each identity with a quota (with the quota they were made for). */
interface Loaded {
  readonly rules: AccessRules;
  readonly jwt: JwtVerifier | undefined;
  readonly limits: ReadonlyMap<string, { readonly quota: IdentitySpec['quota']; readonly limits: IdentityLimits }>;
}

const NO_LIMITS: IdentityLimits = { publish: undefined, delivery: undefined };
const localLimits: LimitFactory = (_key, rate) => new RateLimit(rate);

/** Verified JWTs held this long at most (and never past their exp), so a stream of calls verifies once. */
const JWT_CACHE_MS = 60_000;
const JWT_CACHE_ENTRIES = 10_000;

/**
 * Authentication and authorization from BROKER_AUTH_FILE: who a call is (a bearer token, a JWT, or the client
 * certificate of an mTLS connection), what it may do, and its quotas. reload() (SIGHUP) swaps the rules for the
 * calls that start from then on; a call already running keeps the caller it was admitted as, so no connection or
 * stream is dropped. A file that does not validate leaves the rules as they were.
 */
export class AccessControl implements DenialLog {
  private readonly denials: Counter<'operation' | 'reason'>;
  private readonly jwtCache = new Map<string, { name: string; untilMs: number }>();

  private constructor(
    private readonly options: AccessControlOptions,
    private loaded: Loaded,
  ) {
    this.denials = new Counter({
      name: 'broker_auth_denials_total',
      help: 'calls refused by authentication, authorization or a quota, by operation and reason',
      labelNames: ['operation', 'reason'],
      registers: [options.registry],
    });
  }

  /** Reads and validates the auth file; a ConfigError (naming line and field) if it does not validate. */
  static async open(options: AccessControlOptions): Promise<AccessControl> {
    return new AccessControl(options, await load(options, undefined));
  }

  /** Reads the file again; on any problem the rules stay as they were (logged), and false is returned. */
  async reload(): Promise<boolean> {
    try {
      this.loaded = await load(this.options, this.loaded);
      this.jwtCache.clear();
      this.options.logger.info({ path: this.options.path }, 'auth file reloaded');
      return true;
    } catch (err) {
      this.options.logger.error(
        { err, path: this.options.path },
        'auth file reload failed; the rules stay as they were',
      );
      return false;
    }
  }

  /**
   * The caller of a call from its metadata and connection, or UNAUTHENTICATED saying what is missing or wrong.
   * `peer` is asked only when there is no bearer token: grpc-js's getAuthContext() parses the client certificate
   * (getPeerCertificate) on every call, which a token-authenticated call has no use for.
   */
  async caller(metadata: Metadata, peer: () => PeerAuth | undefined, method: string): Promise<Caller> {
    let identity: Identity;
    try {
      identity = await this.identify(metadata, peer);
    } catch (err) {
      this.denied({ identity: '', operation: method, subject: '', reason: 'UNAUTHENTICATED' });
      throw err;
    }
    const caller = new Caller(identity, this.loaded.limits.get(identity.name)?.limits ?? NO_LIMITS, this);
    // A unary publish is checked synchronously against the quota: a worker with no tokens at hand leases first.
    const ready = method === 'Publish' || method === 'PublishBatch' ? caller.preparePublish() : undefined;
    if (ready !== undefined) await ready;
    return caller;
  }

  denied(denial: { identity: string; operation: string; subject: string; reason: string }): void {
    this.denials.inc({ operation: denial.operation, reason: denial.reason });
    if (denial.reason !== 'QUOTA_EXCEEDED') this.options.logger.warn(denial, 'call refused');
  }

  private async identify(metadata: Metadata, peer: () => PeerAuth | undefined): Promise<Identity> {
    const { rules, jwt } = this.loaded;
    const header = metadata.get('authorization')[0];
    if (typeof header === 'string' && header !== '') {
      const match = /^Bearer\s+(\S+)$/i.exec(header);
      if (match?.[1] === undefined) throw unauthenticated('the authorization header is not "Bearer <token>"');
      const token = match[1];
      if (jwt !== undefined && JwtVerifier.looksLikeJwt(token)) return this.identifyJwt(token, jwt, rules);
      const identity = rules.byToken(token);
      if (identity === undefined) throw unauthenticated('the bearer token is not one the auth file holds');
      return identity;
    }
    const cert = peer()?.sslPeerCertificate;
    if (cert?.subject !== undefined) {
      const identity = rules.byCertificate(cert);
      if (identity === undefined) {
        throw unauthenticated(`the client certificate (CN=${String(cert.subject.CN)}) is no identity of the auth file`);
      }
      return identity;
    }
    throw unauthenticated('no credentials: send "authorization: Bearer <token>" or a client certificate');
  }

  private async identifyJwt(token: string, jwt: JwtVerifier, rules: AccessRules): Promise<Identity> {
    const now = Date.now();
    const cached = this.jwtCache.get(token);
    let name = cached !== undefined && cached.untilMs > now ? cached.name : undefined;
    if (name === undefined) {
      const verified = await jwt.subjectOf(token);
      name = verified.subject;
      if (this.jwtCache.size >= JWT_CACHE_ENTRIES) this.jwtCache.clear();
      this.jwtCache.set(token, { name, untilMs: Math.min(verified.expiresAtMs ?? Infinity, now + JWT_CACHE_MS) });
    }
    const identity = rules.byName(name);
    if (identity === undefined) throw unauthenticated(`the JWT's subject "${name}" is no identity of the auth file`);
    return identity;
  }
}

async function load(options: AccessControlOptions, previous: Loaded | undefined): Promise<Loaded> {
  const file = await readAuthFile(options.path);
  const jwt = file.jwt === undefined ? undefined : await JwtVerifier.load(file.jwt, options.path);
  return { rules: new AccessRules(file), jwt, limits: limitsOf(file.identities, previous, options.limits) };
}

/** Each identity's limits, once per reading: kept from the last while its quota is unchanged, so a reload refills none. */
function limitsOf(
  identities: readonly IdentitySpec[],
  previous: Loaded | undefined,
  factory: LimitFactory = localLimits,
): Loaded['limits'] {
  const limits = new Map<string, { quota: IdentitySpec['quota']; limits: IdentityLimits }>();
  for (const { name, quota } of identities) {
    if (quota === undefined) continue;
    const held = previous?.limits.get(name);
    if (
      held !== undefined &&
      sameRate(held.quota?.publish, quota.publish) &&
      sameRate(held.quota?.delivery, quota.delivery)
    ) {
      limits.set(name, held);
      continue;
    }
    const make = (direction: string, rate: RateSpec | undefined): QuotaLimit | undefined =>
      rate === undefined ? undefined : factory(`${name}/${direction}`, rate);
    limits.set(name, {
      quota,
      limits: { publish: make('publish', quota.publish), delivery: make('delivery', quota.delivery) },
    });
  }
  return limits;
}

function sameRate(a: RateSpec | undefined, b: RateSpec | undefined): boolean {
  return a?.messagesPerSecond === b?.messagesPerSecond && a?.bytesPerSecond === b?.bytesPerSecond;
}

function unauthenticated(message: string): UnauthenticatedError {
  return new UnauthenticatedError(message, { metadata: { credential: 'bearer' } });
}
