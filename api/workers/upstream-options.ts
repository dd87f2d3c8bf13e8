import type { Logger } from 'pino';
import { pino } from 'pino';
import type { Registry } from 'prom-client';
import { InvariantError } from '../../core/index.js';

/** Where an upstream hub reports reconnects and failures (the worker's pino logger). */
export type UpstreamLogger = Pick<Logger, 'info' | 'warn'>;

/** Settings of an UpstreamHub: one shared Subscribe stream per subject another worker owns. */
export interface UpstreamHubOptions {
  /** Newest records each upstream keeps for its local cursors (per subject). @defaultValue 1024 */
  readonly cacheRecords?: number;
  /** Bytes of bodies (plus a fixed overhead per record) each upstream keeps (per subject). @defaultValue 4 MiB */
  readonly cacheBytes?: number;
  /** Bytes the caches of all upstreams keep together; past it the cache that grew is halved. @defaultValue 64 MiB */
  readonly totalCacheBytes?: number;
  /** How long an upstream with no local cursor stays open, so a subscriber that comes back reuses it. @defaultValue 5 s */
  readonly lingerMs?: number;
  /** First wait before a failed upstream stream is reopened, in ms; doubles per failure. @defaultValue 100 */
  readonly reconnectInitialMs?: number;
  /** Longest wait between attempts to reopen an upstream stream, in ms. @defaultValue 5000 */
  readonly reconnectMaxMs?: number;
  /** How long a call to the owner (GetSubject, FetchRange) waits for it, e.g. while it restarts. @defaultValue 15 s */
  readonly callTimeoutMs?: number;
  /** @defaultValue a pino logger on stdout at level warn */
  readonly logger?: UpstreamLogger;
  /** Where broker_upstream_subscriptions and broker_upstream_reconnects_total are registered. @defaultValue none */
  readonly registry?: Registry;
}

export const UPSTREAM_DEFAULTS = {
  cacheRecords: 1024,
  cacheBytes: 4 * 1024 * 1024,
  totalCacheBytes: 64 * 1024 * 1024,
  lingerMs: 5_000,
  reconnectInitialMs: 100,
  reconnectMaxMs: 5_000,
  callTimeoutMs: 15_000,
} as const;

export type ResolvedUpstreamOptions = Required<Omit<UpstreamHubOptions, 'registry'>> &
  Pick<UpstreamHubOptions, 'registry'>;

/** The options with their defaults; a bound that is not a positive integer, or contradicts another, is refused. */
export function resolveUpstreamOptions(options: UpstreamHubOptions): ResolvedUpstreamOptions {
  const resolved: ResolvedUpstreamOptions = {
    ...UPSTREAM_DEFAULTS,
    ...definedOnly(options),
    logger: options.logger ?? pino({ level: 'warn' }),
  };
  const bounds = [
    'cacheRecords',
    'cacheBytes',
    'totalCacheBytes',
    'reconnectInitialMs',
    'reconnectMaxMs',
    'callTimeoutMs',
  ] as const;
  for (const name of bounds) {
    const value = resolved[name];
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new InvariantError(`UpstreamHub option ${name} must be a positive integer, got ${value}`);
    }
  }
  if (!Number.isSafeInteger(resolved.lingerMs) || resolved.lingerMs < 0) {
    throw new InvariantError(`UpstreamHub option lingerMs must be an integer >= 0, got ${resolved.lingerMs}`);
  }
  if (resolved.reconnectInitialMs > resolved.reconnectMaxMs) {
    throw new InvariantError(
      `UpstreamHub option reconnectInitialMs (${resolved.reconnectInitialMs}) exceeds reconnectMaxMs (${resolved.reconnectMaxMs})`,
    );
  }
  return resolved;
}

/** The options actually given: an explicit undefined keeps the default. */
function definedOnly(options: UpstreamHubOptions): Partial<UpstreamHubOptions> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
}
