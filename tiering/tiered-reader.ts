import type {
  ColdStore,
  LogReader,
  LogRecord,
  LookupResult,
  ReadLimits,
  SubjectInfo,
  SubjectQuery,
  TailCursor,
} from '../core/index.js';
import { TieredCursor } from './tiered-cursor.js';

/**
 * The local log with the cold tier behind it, as Kafka's tiered storage: offsets that local retention removed are
 * read from the cold store, so the local disk bounds only the hot data. Reads go to the local log first; only what it
 * no longer has below its first offset is asked of the cold tier. It is only a reader: writes, segments and jobs
 * are the local log's.
 */
export function createTieredReader(local: LogReader, cold: ColdStore): LogReader {
  return new TieredReader(local, cold);
}

class TieredReader implements LogReader {
  constructor(
    private readonly local: LogReader,
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
      const more = await this.cold.readRange(subject, lastCold + 1, gapEnd, {
        maxRecords: 1,
        maxBytes: Number.MAX_SAFE_INTEGER,
      });
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

  subjectInfo(subject: string): Promise<SubjectInfo | undefined> {
    return this.local.subjectInfo(subject);
  }

  listSubjects(query: SubjectQuery): Promise<SubjectInfo[]> {
    return this.local.listSubjects(query);
  }
}
