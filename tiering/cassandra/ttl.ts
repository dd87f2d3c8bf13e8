import { NEVER } from '../../core/index.js';

/** Cassandra (and Scylla) refuse TTLs above 20 years (630,720,000 s). */
export const MAX_TTL_SECONDS = 20 * 365 * 24 * 3600;

/**
 * The latest expiry Cassandra 4 (and Cassandra 5 in its default storage_compatibility_mode CASSANDRA_4) can store:
 * 2038-01-19T03:14:06Z, a 32-bit "local deletion time"; a write past it fails. One day of margin.
 */
export const CASSANDRA_4_EXPIRY_LIMIT_MS = Date.UTC(2038, 0, 19, 3, 14, 6) - 24 * 3600 * 1000;

/**
 * Seconds a row should live to vanish when its record expires, judged at `nowMs`:
 * 0 = no TTL (never expires), undefined = already expired (write nothing), else rounded up and capped at 20 years
 * and at `expiryLimitMs` (the row then vanishes early, at the limit, rather than failing the whole segment copy).
 */
export function ttlSeconds(
  expiresAtMs: number,
  nowMs: number,
  expiryLimitMs = Number.POSITIVE_INFINITY,
): number | undefined {
  if (expiresAtMs === NEVER) return 0;
  const left = Math.ceil((expiresAtMs - nowMs) / 1000);
  if (left <= 0) return undefined;
  const untilLimit = Math.max(1, Math.floor((expiryLimitMs - nowMs) / 1000));
  return Math.min(left, MAX_TTL_SECONDS, untilLimit);
}
