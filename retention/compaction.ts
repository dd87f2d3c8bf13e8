import {
  DataLossError,
  isExpired,
  segmentExpiresAtMs,
  type SegmentInfo,
  type SegmentRef,
  type SegmentStore,
} from '../core/index.js';
import type { CompactionObserver } from './compaction-observer.js';
import { resolveCompactionPolicy, type CompactionPolicy, type ResolvedCompactionPolicy } from './compaction-policy.js';
import { emptyCompactionResult, type CompactionResult } from './compaction-result.js';
import { retentionProfile, scanProfile, type ExpiryProfile } from './expiry-profile.js';
import { localRetentionDrops } from './local-retention.js';

/** Segment metadata read per allSegments page. */
const PAGE = 500;
/** Per-message expirations are at least 1 s: nothing in a segment younger than that can have expired. */
const MIN_EXPIRATION_MS = 1000;

interface Pass {
  readonly nowMs: number;
  readonly result: CompactionResult;
  reads: number;
  /** Profiles of segments still present, so those of deleted segments are forgotten after the pass. */
  readonly seen: Set<string>;
}

const keyOf = (ref: SegmentRef): string => `${ref.subject}\u0000${ref.baseOffset}`;

/**
 * One compaction pass over a broker's log:
 * 1. seals idle active segments (sealStaleSegments);
 * 2. deletes sealed segments whose records have all expired (segmentExpiresAtMs <= now), which advances a subject's
 *    first offset when they lead its log;
 * 3. applies the local retention limits to a prefix of sealed, replicated segments (see localRetentionDrops);
 * 4. deletes the expired records of a partly expired sealed segment when that pays: at least `partialThreshold` of its
 *    records expired and the segment would otherwise stay `partialMinRemainingMs` longer;
 * 5. deletes the idempotency keys whose dedupe window has ended (the log judges the window).
 * It pages through segment metadata and bounds whole-segment reads per pass; the log is never locked against appends.
 */
export class Compactor {
  private readonly profiles = new Map<string, ExpiryProfile>();
  private readonly policy: ResolvedCompactionPolicy;

  constructor(
    private readonly store: SegmentStore,
    policy: CompactionPolicy,
    private readonly observer?: CompactionObserver,
  ) {
    this.policy = resolveCompactionPolicy(policy);
  }

  async run(nowMs: number): Promise<CompactionResult> {
    const pass: Pass = { nowMs, result: emptyCompactionResult(), reads: 0, seen: new Set<string>() };
    pass.result.segmentsSealed = (await this.store.sealStaleSegments(nowMs)).length;
    for await (const subject of this.subjects()) await this.compactSubject(subject, pass);
    for (const key of this.profiles.keys()) if (!pass.seen.has(key)) this.profiles.delete(key);
    pass.result.idempotencyKeysExpired = await this.store.expireIdempotencyKeys(nowMs);
    this.observer?.compacted(pass.result);
    return pass.result;
  }

  /** Every subject's segments, one subject at a time, paging through the metadata. */
  private async *subjects(): AsyncIterable<SegmentInfo[]> {
    let after: SegmentRef | undefined;
    let subject: SegmentInfo[] = [];
    for (;;) {
      const page = await this.store.allSegments({ limit: PAGE, ...(after === undefined ? {} : { after }) });
      for (const segment of page) {
        if (subject[0] !== undefined && subject[0].subject !== segment.subject) {
          yield subject;
          subject = [];
        }
        subject.push(segment);
      }
      const last = page.at(-1);
      if (page.length < PAGE || last === undefined) break;
      after = { subject: last.subject, baseOffset: last.baseOffset };
    }
    if (subject.length > 0) yield subject;
  }

  private async compactSubject(segments: readonly SegmentInfo[], pass: Pass): Promise<void> {
    const { result, nowMs } = pass;
    const kept: SegmentInfo[] = [];
    for (const segment of segments) {
      if (segment.sealed && segmentExpiresAtMs(segment, this.policy.retentionMs) <= nowMs) {
        await this.delete(segment, pass);
        result.segmentsExpired += 1;
      } else {
        kept.push(segment);
      }
    }
    const drops = localRetentionDrops(kept, this.policy, nowMs);
    for (const segment of drops) {
      await this.delete(segment, pass);
      result.segmentsDroppedLocally += 1;
    }
    for (const segment of kept.slice(drops.length)) {
      if (segment.sealed && segment.count > 0) await this.trimUnlessDamaged(segment, pass);
    }
  }

  /** Trims the segment if that pays; a damaged record (DataLossError) skips this segment, not the whole pass. */
  private async trimUnlessDamaged(segment: SegmentInfo, pass: Pass): Promise<void> {
    try {
      await this.trimIfWorthIt(segment, pass);
    } catch (err) {
      if (!(err instanceof DataLossError)) throw err;
      pass.result.segmentsDamaged += 1;
    }
  }

  private async delete(segment: SegmentInfo, pass: Pass): Promise<void> {
    const removed = await this.store.deleteSegment(segment);
    pass.result.recordsDeleted += removed.records;
    pass.result.bytesDeleted += removed.bytes;
  }

  /** Deletes the expired records of a partly expired segment when enough of it is dead and it would stay a while. */
  private async trimIfWorthIt(segment: SegmentInfo, pass: Pass): Promise<void> {
    const { retentionMs, partialMinRemainingMs, partialThreshold, segmentReadsPerPass } = this.policy;
    pass.seen.add(keyOf(segment));
    if (segmentExpiresAtMs(segment, retentionMs) - pass.nowMs < partialMinRemainingMs) return;
    if (segment.firstPublishMs + MIN_EXPIRATION_MS > pass.nowMs) return;
    const profile = await this.profile(segment, pass);
    if (profile === undefined) return;
    // Records expired since the profile, less those already deleted, as a share of what is stored now.
    const expired = Math.floor(profile.count * profile.expiredShare(pass.nowMs)) - (profile.count - segment.count);
    if (expired < partialThreshold * segment.count || pass.reads >= segmentReadsPerPass) return;
    pass.reads += 1;
    const nowMs = pass.nowMs;
    const removed = await this.store.deleteRecords(segment, (r) => isExpired(r, retentionMs, nowMs));
    if (removed.records > 0) pass.result.segmentsTrimmed += 1;
    pass.result.recordsDeleted += removed.records;
    pass.result.bytesDeleted += removed.bytes;
  }

  /** The segment's expiry profile: kept from an earlier pass, interpolated, or read (undefined: no reads left). */
  private async profile(segment: SegmentInfo, pass: Pass): Promise<ExpiryProfile | undefined> {
    const key = keyOf(segment);
    let profile = this.profiles.get(key);
    if (profile !== undefined) return profile;
    if (segment.maxExplicitExpiryMs === 0) {
      profile = retentionProfile(segment, this.policy.retentionMs);
    } else {
      if (pass.reads >= this.policy.segmentReadsPerPass) return undefined;
      pass.reads += 1;
      profile = await scanProfile(this.store, segment, this.policy.retentionMs);
    }
    this.profiles.set(key, profile);
    return profile;
  }
}
