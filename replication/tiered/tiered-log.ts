import type {
  AppendInput,
  ColdStore,
  Log,
  LogRecord,
  LookupResult,
  ReadLimits,
  SegmentInfo,
  SubjectInfo,
  TailCursor,
} from '../../core/index.js';
import { TieredCursor } from './tiered-cursor.js';

/**
 * The local log with the cold tier behind it, as Kafka's tiered storage: offsets that local retention removed are
 * read from the cold store, so the local disk bounds only the hot data. Reads go to the local log first; only what it
 * no longer has below its first offset is asked of the cold tier. Writes, segments and jobs are the local log's.
 */
export function createTieredLog(local: Log, cold: ColdStore): Log {
  return new TieredLog(local, cold);
}

class TieredLog implements Log {
  constructor(
    private readonly local: Log,
    private readonly cold: ColdStore,
  ) {}

  async get(subject: string, offset: number): Promise<LookupResult> {
    const found = await this.local.get(subject, offset);
    if (found.kind !== 'removed') return found;
    const record = await this.cold.get(subject, offset);
    return record === undefined ? found : { kind: 'record', record };
  }

  /**
   * Local first, then the cold tier for [from, where the local records start) below the local first offset. Reading
   * the local log first makes a concurrent local-retention drop harmless: a segment leaves the disk only after the
   * cold tier has it.
   */
  async readRange(subject: string, fromOffset: number, limits: ReadLimits): Promise<LogRecord[]> {
    const newer = await this.local.readRange(subject, fromOffset, limits);
    if (newer.length > 0 && newer[0]!.offset === fromOffset) return newer;
    const info = await this.local.subjectInfo(subject);
    if (info === undefined) return newer;
    const gapEnd = Math.min(newer[0]?.offset ?? info.lastOffset + 1, info.firstOffset);
    if (fromOffset >= gapEnd) return newer;
    const out = await this.cold.readRange(subject, fromOffset, gapEnd, limits);
    if (out.length === 0) return newer;
    if (out.length >= limits.maxRecords) return out;
    const lastCold = out[out.length - 1]!.offset;
    if (lastCold + 1 < gapEnd) {
      // The cold tier may have stopped at the byte limit: then its next record, not a local one, comes next.
      const more = await this.cold.readRange(subject, lastCold + 1, gapEnd, { maxRecords: 1, maxBytes: Number.MAX_SAFE_INTEGER });
      if (more.length > 0) return out;
    }
    let bytes = out.reduce((n, r) => n + r.body.length, 0);
    for (const record of newer) {
      if (out.length >= limits.maxRecords || bytes + record.body.length > limits.maxBytes) break;
      out.push(record);
      bytes += record.body.length;
    }
    return out;
  }

  async tail(subject: string, from: number | 'live'): Promise<TailCursor> {
    const local = await this.local.tail(subject, from);
    return from === 'live' ? local : new TieredCursor(subject, from, this.local, this.cold, local);
  }

  append(input: AppendInput): Promise<number> {
    return this.local.append(input);
  }

  appendMany(inputs: readonly AppendInput[]): Promise<number[]> {
    return this.local.appendMany(inputs);
  }

  subjectInfo(subject: string): Promise<SubjectInfo | undefined> {
    return this.local.subjectInfo(subject);
  }

  listSubjects(options: { prefix?: string; after?: string; limit: number }): Promise<SubjectInfo[]> {
    return this.local.listSubjects(options);
  }

  segments(subject: string): Promise<SegmentInfo[]> {
    return this.local.segments(subject);
  }

  unreplicatedSegments(options: { limit: number; after?: { subject: string; baseOffset: number } }): Promise<SegmentInfo[]> {
    return this.local.unreplicatedSegments(options);
  }

  allSegments(options: { limit: number; after?: { subject: string; baseOffset: number } }): Promise<SegmentInfo[]> {
    return this.local.allSegments(options);
  }

  readSegment(subject: string, baseOffset: number, batchSize?: number): AsyncIterable<LogRecord[]> {
    return this.local.readSegment(subject, baseOffset, batchSize);
  }

  markReplicated(subject: string, baseOffset: number): Promise<void> {
    return this.local.markReplicated(subject, baseOffset);
  }

  sealStaleSegments(nowMs: number): Promise<SegmentInfo[]> {
    return this.local.sealStaleSegments(nowMs);
  }

  onSegmentSealed(listener: (segment: SegmentInfo) => void): () => void {
    return this.local.onSegmentSealed(listener);
  }

  deleteSegment(subject: string, baseOffset: number): Promise<{ records: number; bytes: number }> {
    return this.local.deleteSegment(subject, baseOffset);
  }

  deleteRecords(subject: string, baseOffset: number, isExpired: (record: LogRecord) => boolean): Promise<{ records: number; bytes: number }> {
    return this.local.deleteRecords(subject, baseOffset, isExpired);
  }

  /** Closes the local log; the cold store belongs to whoever opened it. */
  close(): Promise<void> {
    return this.local.close();
  }
}
