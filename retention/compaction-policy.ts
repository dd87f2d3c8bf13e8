import { InvariantError } from '../core/index.js';

/** Share of a sealed segment's stored records that must have expired before its expired records are deleted. */
export const DEFAULT_PARTIAL_THRESHOLD = 0.5;
/** A partly expired segment that expires whole sooner than this (ms) is left for the whole-segment deletion. */
export const DEFAULT_PARTIAL_MIN_REMAINING_MS = 3_600_000;
/** Whole-segment reads (expiry profiles and partial deletions) per pass. */
export const DEFAULT_SEGMENT_READS_PER_PASS = 16;

/** What compaction enforces; durations in ms, sizes in bytes. */
export interface CompactionPolicy {
  /** Subject retention for records without their own expiration; 0 = for ever. */
  readonly retentionMs: number;
  /** Drop replicated segments locally once their last record is this old; 0 = off. */
  readonly localRetentionMs: number;
  /** Per subject, drop the oldest replicated segments while the subject's local bytes exceed this; 0 = off. */
  readonly localRetentionBytes: number;
  /**
   * Delete the expired records of a partly expired segment once this share (0..1] of its records has expired.
   * @defaultValue 0.5
   */
  readonly partialThreshold?: number;
  /** ...and only if the segment would otherwise stay at least this long, in ms. @defaultValue 3600000 (1 hour) */
  readonly partialMinRemainingMs?: number;
  /** Whole-segment reads per pass, so a pass stays bounded on a large log. @defaultValue 16 */
  readonly segmentReadsPerPass?: number;
}

export type ResolvedCompactionPolicy = Required<CompactionPolicy>;

/** The policy with its defaults; a threshold outside (0, 1] or a negative limit is a caller bug. */
export function resolveCompactionPolicy(policy: CompactionPolicy): ResolvedCompactionPolicy {
  const resolved = {
    partialThreshold: DEFAULT_PARTIAL_THRESHOLD,
    partialMinRemainingMs: DEFAULT_PARTIAL_MIN_REMAINING_MS,
    segmentReadsPerPass: DEFAULT_SEGMENT_READS_PER_PASS,
    ...policy,
  };
  if (!(resolved.partialThreshold > 0 && resolved.partialThreshold <= 1))
    throw new InvariantError(`partialThreshold must be in (0, 1], got ${resolved.partialThreshold}`);
  for (const key of ['retentionMs', 'localRetentionMs', 'localRetentionBytes', 'segmentReadsPerPass'] as const) {
    if (!(resolved[key] >= 0)) throw new InvariantError(`${key} must be 0 or more, got ${resolved[key]}`);
  }
  return resolved;
}
