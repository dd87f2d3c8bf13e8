import type { SegmentInfo } from '../core/index.js';

/**
 * How many of a subject's oldest segments local retention drops: only a prefix of sealed, replicated segments, and
 * only while the oldest is older than `localRetentionMs` or the subject holds more than `localRetentionBytes`.
 * It stops at the first segment that is active, unreplicated or within the limits: nothing leaves the disk before the
 * cold tier has it, and the local log stays one contiguous run, so tiered reads need the cold tier only below the
 * local first offset. `segments` are in offset order, expired ones already gone.
 */
export function localRetentionDrops(
  segments: readonly SegmentInfo[],
  limits: { readonly localRetentionMs: number; readonly localRetentionBytes: number },
  nowMs: number,
): SegmentInfo[] {
  const { localRetentionMs, localRetentionBytes } = limits;
  let bytes = segments.reduce((n, s) => n + s.bytes, 0);
  const drops: SegmentInfo[] = [];
  for (const segment of segments) {
    if (!segment.sealed || !segment.replicated) break;
    const tooOld = localRetentionMs > 0 && segment.lastPublishMs + localRetentionMs <= nowMs;
    const tooBig = localRetentionBytes > 0 && bytes > localRetentionBytes;
    if (!tooOld && !tooBig) break;
    drops.push(segment);
    bytes -= segment.bytes;
  }
  return drops;
}
