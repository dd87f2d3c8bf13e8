import { NEVER, expiresAtMs, type SegmentInfo, type SegmentStore } from '../core/index.js';

/** Order statistics kept per profile: quantiles 0, 1/32, ..., 1 of the records' expiry times (~3 % resolution). */
const POINTS = 33;
/** Segments with at most this many records keep every expiry time. */
const EXACT_UP_TO = 64;

/**
 * How a sealed segment's records expire over time, from which compaction judges whether deleting the expired records
 * of a partly expired segment is worth a read of the whole segment. Built once per segment (per process), then
 * answered from memory: segment metadata says only when the first and the last record expire, not how many lie
 * between, so a segment with per-message expirations is read once; a retention-only one is interpolated.
 */
export interface ExpiryProfile {
  /** Records stored when the profile was taken. */
  readonly count: number;
  /** Share of those records expired at `nowMs`, 0..1 (conservative: rounds down). */
  expiredShare(nowMs: number): number;
}

/** Reads a segment's records once and keeps the quantiles of their expiry times. */
export async function scanProfile(
  store: Pick<SegmentStore, 'readSegment'>,
  segment: SegmentInfo,
  retentionMs: number,
): Promise<ExpiryProfile> {
  const times: number[] = [];
  for await (const batch of store.readSegment(segment)) {
    for (const r of batch) times.push(expiresAtMs(r.publishedAtMs, r.expirationSeconds, retentionMs));
  }
  times.sort((a, b) => a - b);
  // A small segment keeps every expiry time (exact); a larger one its quantiles 0, 1/32, ..., 1.
  const exact = times.length <= EXACT_UP_TO;
  const points = exact
    ? times
    : Array.from({ length: POINTS }, (_, i) => times[Math.round((i * (times.length - 1)) / (POINTS - 1))] ?? NEVER);
  return {
    count: times.length,
    expiredShare(nowMs: number): number {
      let i = 0;
      for (const at of points) {
        if (at > nowMs) break;
        i += 1;
      }
      if (exact) return points.length === 0 ? 0 : i / points.length;
      // points[i - 1] is the (i - 1)/(POINTS - 1) quantile: at least that share has expired.
      return i === 0 ? 0 : (i - 1) / (POINTS - 1);
    },
  };
}

/**
 * A segment whose records all follow the subject retention expires in publish order: the share expired is the share
 * of its publish window older than the retention (assuming an even publish rate). No read needed.
 */
export function retentionProfile(segment: SegmentInfo, retentionMs: number): ExpiryProfile {
  const from = segment.firstPublishMs + retentionMs;
  const to = segment.lastRetentionPublishMs + retentionMs;
  return {
    count: segment.count,
    expiredShare(nowMs: number): number {
      if (retentionMs <= 0 || nowMs < from) return 0;
      if (nowMs >= to) return 1;
      return (nowMs - from) / (to - from);
    },
  };
}
