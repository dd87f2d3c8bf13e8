import { isExpired, segmentExpiresAtMs, type Log, type SegmentInfo } from '../core/index.js';
import { retentionProfile, scanProfile, type ExpiryProfile } from './expiry-profile.js';
import type { JobMetrics } from '../jobs/job-metrics.js';

/** Share of a sealed segment's stored records that must have expired before its expired records are deleted. */
export const DEFAULT_PARTIAL_THRESHOLD = 0.5;
/** A partly expired segment that expires whole sooner than this is left for the whole-segment deletion. */
export const DEFAULT_PARTIAL_MIN_REMAINING_MS = 3_600_000;
/** Whole-segment reads (expiry profiles and partial deletions) per pass. */
export const DEFAULT_SEGMENT_READS_PER_PASS = 16;
/** Segment metadata read per allSegments page. */
const PAGE = 500;

/** What compaction enforces; durations in ms, sizes in bytes. */
export interface CompactionPolicy {
  /** Subject retention for records without their own expiration; 0 = for ever. */
  readonly retentionMs: number;
  /** Drop replicated segments locally once their last record is this old; 0 = off. */
  readonly localRetentionMs: number;
  /** Per subject, drop the oldest replicated segments while the subject's local bytes exceed this; 0 = off. */
  readonly localRetentionBytes: number;
  /** Delete the expired records of a partly expired segment once this share (0..1] of its records has expired. @defaultValue 0.5 */
  readonly partialThreshold?: number;
  /** ...and only if the segment would otherwise stay at least this long. @defaultValue 1 hour */
  readonly partialMinRemainingMs?: number;
  /** Whole-segment reads per pass, so a pass stays bounded on a large log. @defaultValue 16 */
  readonly segmentReadsPerPass?: number;
}

export interface CompactionResult {
  /** Idle active segments sealed (by age). */
  segmentsSealed: number;
  /** Segments deleted because every record in them had expired. */
  segmentsExpired: number;
  /** Replicated segments dropped from the local disk by a local retention limit (still served from the cold tier). */
  segmentsDroppedLocally: number;
  /** Partly expired segments whose expired records were deleted. */
  segmentsTrimmed: number;
  recordsDeleted: number;
  bytesDeleted: number;
}

/**
 * One compaction pass over a broker's log:
 * 1. seals idle active segments (log.sealStaleSegments);
 * 2. deletes sealed segments whose records have all expired (segmentExpiresAtMs <= now), which advances a subject's
 *    first offset when they lead its log;
 * 3. applies the local retention limits to the oldest segments of each subject, and only to a prefix of sealed,
 *    replicated ones: nothing leaves the machine before the cold tier has it, and the local log stays one contiguous
 *    run, so tiered reads need the cold tier only below the local first offset;
 * 4. deletes the expired records of a partly expired sealed segment when that pays: at least `partialThreshold` of its
 *    records expired and the segment would otherwise stay `partialMinRemainingMs` longer.
 * It pages through segment metadata and bounds whole-segment reads per pass; the log is never locked against appends.
 */
export class Compactor {
  private readonly profiles = new Map<string, ExpiryProfile>();
  private readonly threshold: number;
  private readonly minRemainingMs: number;
  private readonly readsPerPass: number;

  constructor(
    private readonly log: Log,
    private readonly policy: CompactionPolicy,
    private readonly metrics?: JobMetrics,
  ) {
    this.threshold = policy.partialThreshold ?? DEFAULT_PARTIAL_THRESHOLD;
    this.minRemainingMs = policy.partialMinRemainingMs ?? DEFAULT_PARTIAL_MIN_REMAINING_MS;
    this.readsPerPass = policy.segmentReadsPerPass ?? DEFAULT_SEGMENT_READS_PER_PASS;
    if (!(this.threshold > 0 && this.threshold <= 1))
      throw new RangeError(`partialThreshold must be in (0, 1], got ${this.threshold}`);
  }

  async run(nowMs: number): Promise<CompactionResult> {
    const result: CompactionResult = {
      segmentsSealed: 0,
      segmentsExpired: 0,
      segmentsDroppedLocally: 0,
      segmentsTrimmed: 0,
      recordsDeleted: 0,
      bytesDeleted: 0,
    };
    const pass = { nowMs, result, reads: 0, seen: new Set<string>() };
    result.segmentsSealed = (await this.log.sealStaleSegments(nowMs)).length;
    let after: { subject: string; baseOffset: number } | undefined;
    let subject: SegmentInfo[] = [];
    for (;;) {
      const page = await this.log.allSegments({ limit: PAGE, ...(after === undefined ? {} : { after }) });
      for (const segment of page) {
        if (subject.length > 0 && subject[0]!.subject !== segment.subject) {
          await this.compactSubject(subject, pass);
          subject = [];
        }
        subject.push(segment);
      }
      if (page.length < PAGE) break;
      const last = page[page.length - 1]!;
      after = { subject: last.subject, baseOffset: last.baseOffset };
    }
    if (subject.length > 0) await this.compactSubject(subject, pass);
    for (const key of this.profiles.keys()) if (!pass.seen.has(key)) this.profiles.delete(key);
    this.record(result);
    return result;
  }

  private async compactSubject(segments: readonly SegmentInfo[], pass: Pass): Promise<void> {
    const { retentionMs, localRetentionMs, localRetentionBytes } = this.policy;
    const { nowMs, result } = pass;
    const kept: SegmentInfo[] = [];
    for (const segment of segments) {
      if (segment.sealed && segmentExpiresAtMs(segment, retentionMs) <= nowMs) {
        const removed = await this.log.deleteSegment(segment);
        result.segmentsExpired += 1;
        result.recordsDeleted += removed.records;
        result.bytesDeleted += removed.bytes;
      } else {
        kept.push(segment);
      }
    }

    let bytes = kept.reduce((n, s) => n + s.bytes, 0);
    let first = 0;
    for (; first < kept.length; first++) {
      const segment = kept[first]!;
      if (!segment.sealed || !segment.replicated) break;
      const tooOld = localRetentionMs > 0 && segment.lastPublishMs + localRetentionMs <= nowMs;
      const tooBig = localRetentionBytes > 0 && bytes > localRetentionBytes;
      if (!tooOld && !tooBig) break;
      const removed = await this.log.deleteSegment(segment);
      bytes -= segment.bytes;
      result.segmentsDroppedLocally += 1;
      result.recordsDeleted += removed.records;
      result.bytesDeleted += removed.bytes;
    }

    for (const segment of kept.slice(first)) {
      if (segment.sealed && segment.count > 0) await this.trimIfWorthIt(segment, pass);
    }
  }

  /** Deletes the expired records of a partly expired segment when enough of it is dead and it would stay a while. */
  private async trimIfWorthIt(segment: SegmentInfo, pass: Pass): Promise<void> {
    const { retentionMs } = this.policy;
    const key = `${segment.subject}\u0000${segment.baseOffset}`;
    pass.seen.add(key);
    if (segmentExpiresAtMs(segment, retentionMs) - pass.nowMs < this.minRemainingMs) return;
    // Per-message expirations are at least 1 s: nothing in a segment younger than that can have expired.
    if (segment.firstPublishMs + 1000 > pass.nowMs) return;
    let profile = this.profiles.get(key);
    if (profile === undefined) {
      if (segment.maxExplicitExpiryMs === 0) {
        profile = retentionProfile(segment, retentionMs);
      } else {
        if (pass.reads >= this.readsPerPass) return;
        pass.reads += 1;
        profile = await scanProfile(this.log, segment, retentionMs);
      }
      this.profiles.set(key, profile);
    }
    // Records expired since the profile, less those already deleted, as a share of what is stored now.
    const expired = Math.floor(profile.count * profile.expiredShare(pass.nowMs)) - (profile.count - segment.count);
    if (expired < this.threshold * segment.count || pass.reads >= this.readsPerPass) return;
    pass.reads += 1;
    const nowMs = pass.nowMs;
    const removed = await this.log.deleteRecords(segment, (r) => isExpired(r, retentionMs, nowMs));
    if (removed.records > 0) pass.result.segmentsTrimmed += 1;
    pass.result.recordsDeleted += removed.records;
    pass.result.bytesDeleted += removed.bytes;
  }

  private record(result: CompactionResult): void {
    if (this.metrics === undefined) return;
    this.metrics.segmentsCompacted.inc({ kind: 'expired' }, result.segmentsExpired);
    this.metrics.segmentsCompacted.inc({ kind: 'local_retention' }, result.segmentsDroppedLocally);
    this.metrics.segmentsCompacted.inc({ kind: 'trimmed' }, result.segmentsTrimmed);
    this.metrics.recordsCompacted.inc(result.recordsDeleted);
    this.metrics.bytesCompacted.inc(result.bytesDeleted);
  }
}

interface Pass {
  readonly nowMs: number;
  readonly result: CompactionResult;
  reads: number;
  readonly seen: Set<string>;
}
