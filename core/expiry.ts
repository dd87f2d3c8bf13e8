import type { LogRecord } from './record.js';

/** "Never expires", as an expiry time. */
export const NEVER = Number.POSITIVE_INFINITY;

/**
 * When a record expires, in ms since the epoch: its own expiration if it has one, else the subject retention
 * (retentionMs = 0 keeps it for ever). Expiry is judged at read time with this, so reads are right before any
 * compaction has run.
 */
export function expiresAtMs(publishedAtMs: number, expirationSeconds: number, retentionMs: number): number {
  if (expirationSeconds > 0) return publishedAtMs + expirationSeconds * 1000;
  return retentionMs > 0 ? publishedAtMs + retentionMs : NEVER;
}

export function isExpired(
  record: Pick<LogRecord, 'publishedAtMs' | 'expirationSeconds'>,
  retentionMs: number,
  nowMs: number,
): boolean {
  return expiresAtMs(record.publishedAtMs, record.expirationSeconds, retentionMs) <= nowMs;
}
