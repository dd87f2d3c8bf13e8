import { isExpired, segmentExpiresAtMs, type Log, type SegmentInfo } from '../../core/index.js';
import type { JobMetrics } from './job-metrics.js';

export interface CompactionPolicy {
  /** Subject retention for records without their own expiration; 0 = for ever. */
  readonly retentionMs: number;
  /** Drop replicated segments locally once their last record is this old; 0 = off. */
  readonly localRetentionMs: number;
  /** Per subject, drop the oldest replicated segments beyond this many bytes; 0 = off. */
  readonly localRetentionBytes: number;
  /** Scan a partly expired segment for expired records at most this often. @defaultValue 10 minutes */
  readonly partialScanIntervalMs?: number;
}

export interface CompactionResult {
  segmentsSealed: number;
  segmentsExpired: number;
  segmentsDroppedLocally: number;
  recordsDeleted: number;
  bytesDeleted: number;
}

const PAGE = 500;

/**
 * One compaction pass: seals idle segments, deletes segments whose records have all expired, deletes expired records
 * inside partly expired sealed segments (rate-limited per segment, since it reads the segment), and applies the local
 * retention limits to replicated segments only, so nothing leaves the machine before it is in the cold tier.
 */
export class Compactor {
  private readonly lastPartialScan = new Map<string, number>();

  constructor(
    private readonly log: Log,
    private readonly policy: CompactionPolicy,
    private readonly metrics?: JobMetrics,
  ) {}

  async run(nowMs: number): Promise<CompactionResult> {
    const result: CompactionResult = { segmentsSealed: 0, segmentsExpired: 0, segmentsDroppedLocally: 0, recordsDeleted: 0, bytesDeleted: 0 };
    result.segmentsSealed = (await this.log.sealStaleSegments(nowMs)).length;
    let after: { subject: string; baseOffset: number } | undefined;
    let subjectSegments: SegmentInfo[] = [];
    for (;;) {
      const page = await this.log.allSegments({ limit: PAGE, ...(after === undefined ? {} : { after }) });
      for (const segment of page) {
        if (subjectSegments.length > 0 && subjectSegments[0]!.subject !== segment.subject) {
          await this.compactSubject(subjectSegments, nowMs, result);
          subjectSegments = [];
        }
        subjectSegments.push(segment);
      }
      if (page.length < PAGE) break;
      const last = page[page.length - 1]!;
      after = { subject: last.subject, baseOffset: last.baseOffset };
    }
    if (subjectSegments.length > 0) await this.compactSubject(subjectSegments, nowMs, result);
    if (this.metrics !== undefined) {
      this.metrics.segmentsCompacted.inc({ kind: 'expired' }, result.segmentsExpired);
      this.metrics.segmentsCompacted.inc({ kind: 'local_retention' }, result.segmentsDroppedLocally);
      this.metrics.recordsCompacted.inc(result.recordsDeleted);
      this.metrics.bytesCompacted.inc(result.bytesDeleted);
    }
    return result;
  }

  private async compactSubject(segments: SegmentInfo[], nowMs: number, result: CompactionResult): Promise<void> {
    const { retentionMs, localRetentionMs, localRetentionBytes } = this.policy;
    const kept: SegmentInfo[] = [];
    for (const segment of segments) {
      if (!segment.sealed) {
        kept.push(segment);
        continue;
      }
      if (segmentExpiresAtMs(segment, retentionMs) <= nowMs) {
        const removed = await this.log.deleteSegment(segment.subject, segment.baseOffset);
        result.segmentsExpired += 1;
        result.recordsDeleted += removed.records;
        result.bytesDeleted += removed.bytes;
        continue;
      }
      if (segment.replicated && localRetentionMs > 0 && segment.lastPublishMs + localRetentionMs <= nowMs) {
        await this.dropLocally(segment, result);
        continue;
      }
      if (this.mayHaveExpired(segment, nowMs)) {
        const removed = await this.log.deleteRecords(segment.subject, segment.baseOffset, (r) => isExpired(r, retentionMs, nowMs));
        result.recordsDeleted += removed.records;
        result.bytesDeleted += removed.bytes;
      }
      kept.push(segment);
    }
    if (localRetentionBytes > 0) {
      let bytes = kept.reduce((n, s) => n + s.bytes, 0);
      for (const segment of kept) {
        if (bytes <= localRetentionBytes) break;
        if (!segment.sealed || !segment.replicated) continue;
        await this.dropLocally(segment, result);
        bytes -= segment.bytes;
      }
    }
  }

  private async dropLocally(segment: SegmentInfo, result: CompactionResult): Promise<void> {
    const removed = await this.log.deleteSegment(segment.subject, segment.baseOffset);
    result.segmentsDroppedLocally += 1;
    result.recordsDeleted += removed.records;
    result.bytesDeleted += removed.bytes;
  }

  /** Whether a sealed segment may hold expired records: its oldest record is past retention or it has expirations. */
  private mayHaveExpired(segment: SegmentInfo, nowMs: number): boolean {
    const { retentionMs } = this.policy;
    const oldRetained = segment.lastRetentionPublishMs > 0 && retentionMs > 0 && segment.firstPublishMs + retentionMs <= nowMs;
    const ttlBearing = segment.maxExplicitExpiryMs > 0 && segment.firstPublishMs < nowMs;
    if (!oldRetained && !ttlBearing) return false;
    const key = `${segment.subject}\u0000${segment.baseOffset}`;
    const last = this.lastPartialScan.get(key);
    if (last !== undefined && nowMs - last < (this.policy.partialScanIntervalMs ?? 600_000)) return false;
    this.lastPartialScan.set(key, nowMs);
    return true;
  }
}
