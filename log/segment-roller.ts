import { INDEX_VALUE, type SegmentState } from './codec.js';
import { Family, activeKey, activeKeyAfter, offsetKey, subjectPrefix } from './keys.js';
import type { GroupCommit } from './group-commit.js';
import type { SubjectState } from './subject-state.js';

/** When segments roll: the `LogOptions` fields of the same names. */
export interface SegmentLimits {
  readonly segmentMaxRecords: number;
  readonly segmentMaxBytes: number;
  readonly segmentMaxAgeMs: number;
}

/**
 * Opens and seals a subject's segments, in the batch being built: a segment rolls when the next record would pass
 * `segmentMaxRecords` records or `segmentMaxBytes` body bytes, or comes `segmentMaxAgeMs` after its first record.
 * Opening puts the segment in the age index; sealing moves it from there to the unreplicated index.
 */
export class SegmentRoller {
  constructor(
    private readonly commit: GroupCommit,
    private readonly limits: SegmentLimits,
    /** acks=replicated: segments opened now are written only by commits the cold tier acknowledged (mirrored). */
    private readonly mirror = false,
  ) {}

  /** The segment the record at `offset` goes into, rolling to a new one by record count, bytes or age. */
  segmentFor(state: SubjectState, offset: number, size: number, nowMs: number): SegmentState {
    const l = this.limits;
    let segment = state.active;
    if (
      segment !== undefined &&
      (segment.lastOffset - segment.baseOffset + 1 >= l.segmentMaxRecords ||
        (segment.bytes > 0 && segment.bytes + size > l.segmentMaxBytes) ||
        this.isStale(segment, nowMs))
    ) {
      this.seal(state, segment);
      segment = undefined;
    }
    return segment ?? this.open(state, offset, nowMs);
  }

  /** Whether the segment's first record is `segmentMaxAgeMs` or more before `nowMs`. */
  isStale(segment: SegmentState, nowMs: number): boolean {
    return nowMs - segment.firstPublishMs >= this.limits.segmentMaxAgeMs;
  }

  /** The first age-index key past every segment that is stale at `nowMs`: a scan up to it reads only those. */
  staleBound(nowMs: number): Buffer {
    return activeKeyAfter(nowMs - this.limits.segmentMaxAgeMs);
  }

  /**
   * Seals the segment in the batch being built: appends still in flight to it are written first. A mirrored one is
   * sealed replicated (every record is in the cold tier already): no copy is owed, so a hand-over's flush is quick.
   */
  seal(state: SubjectState, segment: SegmentState): void {
    segment.sealed = true;
    const batch = this.commit.pending().del(activeKey(segment.firstPublishMs, state.subject, segment.baseOffset));
    if (segment.mirrored) segment.replicated = true;
    else batch.put(offsetKey(subjectPrefix(Family.unreplicated, state.subject), segment.baseOffset), INDEX_VALUE);
    this.commit.sealed(state, segment);
  }

  private open(state: SubjectState, offset: number, nowMs: number): SegmentState {
    const segment: SegmentState = {
      baseOffset: offset,
      lastOffset: offset - 1,
      count: 0,
      bytes: 0,
      firstPublishMs: nowMs,
      lastPublishMs: nowMs,
      maxExplicitExpiryMs: 0,
      lastRetentionPublishMs: 0,
      sealed: false,
      replicated: false,
      deleting: false,
      mirrored: this.mirror,
    };
    state.segments.push(segment);
    this.commit.pending().put(activeKey(nowMs, state.subject, offset), INDEX_VALUE);
    return segment;
  }
}
