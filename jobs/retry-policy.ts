import { ConfigError } from '../core/index.js';

/** Attempts of one keyed job before it is a dead letter. */
export const DEFAULT_ATTEMPTS = 8;
/** First retry delay, in ms; it doubles per attempt. */
export const DEFAULT_BACKOFF_MS = 1000;
/** Longest retry delay, in ms. */
export const DEFAULT_MAX_BACKOFF_MS = 60_000;

/** How failed keyed jobs are retried. */
export interface RetryPolicy {
  /** Attempts of one job before it is a dead letter (the next sweep re-drives it). @defaultValue 8 */
  readonly attempts?: number;
  /** First retry delay in ms; doubles per attempt. @defaultValue 1000 */
  readonly backoffMs?: number;
  /** Longest retry delay in ms, so an outage of hours is retried every minute, not every few hours. @defaultValue 60000 */
  readonly maxBackoffMs?: number;
}

export type ResolvedRetryPolicy = Required<RetryPolicy>;

/** The policy with its defaults; rejects a policy that contradicts itself. */
export function resolveRetryPolicy(policy: RetryPolicy = {}): ResolvedRetryPolicy {
  const resolved = {
    attempts: policy.attempts ?? DEFAULT_ATTEMPTS,
    backoffMs: policy.backoffMs ?? DEFAULT_BACKOFF_MS,
    maxBackoffMs: policy.maxBackoffMs ?? Math.max(DEFAULT_MAX_BACKOFF_MS, policy.backoffMs ?? 0),
  };
  if (!Number.isInteger(resolved.attempts) || resolved.attempts < 1)
    throw new ConfigError('attempts', `must be a whole number of at least 1, got ${resolved.attempts}`);
  if (!(resolved.backoffMs > 0)) throw new ConfigError('backoffMs', `must be above 0, got ${resolved.backoffMs}`);
  if (!(resolved.maxBackoffMs >= resolved.backoffMs))
    throw new ConfigError(
      'maxBackoffMs',
      `must be at least backoffMs (${resolved.backoffMs}), got ${resolved.maxBackoffMs}`,
    );
  return resolved;
}

/** The delay before attempt `attempt + 1`: backoffMs * 2^(attempt - 1), at most maxBackoffMs. */
export function retryDelayMs(policy: ResolvedRetryPolicy, attempt: number): number {
  return Math.min(policy.backoffMs * 2 ** (attempt - 1), policy.maxBackoffMs);
}
