import { NEVER } from './expiry.js';

/** Metadata of one segment of a subject's log, as the log keeps it in LevelDB. */
export interface SegmentInfo {
  readonly subject: string;
  /** Offset of the segment's first record (segments never overlap; a subject's segments tile its offsets). */
  readonly baseOffset: number;
  /** Offset of the last record appended to it (baseOffset - 1 while empty). */
  readonly lastOffset: number;
  /** Records still stored locally (falls when expired records are deleted). */
  readonly count: number;
  /** Body bytes still stored locally. */
  readonly bytes: number;
  readonly firstPublishMs: number;
  readonly lastPublishMs: number;
  /** Latest expiry among records with their own expiration, ms since the epoch; 0 when there are none. */
  readonly maxExplicitExpiryMs: number;
  /** Latest publish time among records that follow the subject retention (expiration 0); 0 when there are none. */
  readonly lastRetentionPublishMs: number;
  /** A sealed segment takes no more appends: it is what compaction and replication work on. */
  readonly sealed: boolean;
  /** Every record of it is acknowledged by the cold tier. */
  readonly replicated: boolean;
}

/**
 * When every record of the segment has expired, in ms since the epoch (NEVER if some record is kept for ever).
 * Judged with the retention in force now, so a retention change applies to segments written before it.
 */
export function segmentExpiresAtMs(segment: SegmentInfo, retentionMs: number): number {
  let at = segment.maxExplicitExpiryMs;
  if (segment.lastRetentionPublishMs > 0) {
    if (retentionMs <= 0) return NEVER;
    at = Math.max(at, segment.lastRetentionPublishMs + retentionMs);
  }
  return at;
}
