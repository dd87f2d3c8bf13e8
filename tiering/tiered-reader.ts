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
    // 'lost': an id this disk no longer has (a wiped disk, a partition taken over from another member) may still be
    // in the cold tier, which then serves it; only what neither has is DATA_LOSS.
    if (found.kind !== 'removed' && found.kind !== 'lost') return found;
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
    const firstLocal = newer[0]?.offset;
    if (firstLocal === fromOffset) return newer;
    const info = await this.local.subjectInfo(subject);
    if (info === undefined) return newer;
    // Only offsets below the local first offset can be in the cold tier; a hole above it is expired records.
    const gapEnd = Math.min(firstLocal ?? info.lastOffset + 1, info.firstOffset);
    // An abandoned call asks the cold tier nothing more: a shorter page is still a valid page.
    if (fromOffset >= gapEnd || abandoned(limits)) return newer;
    const older = await this.cold.readRange(subject, fromOffset, gapEnd, limits);
    const lastCold = older.at(-1);
    if (lastCold === undefined) return newer;
    if (abandoned(limits)) return older;
    if (older.length >= limits.maxRecords || (await this.coldHasMore(subject, lastCold.offset + 1, gapEnd)))
      return older;
    return appendWithin(older, newer, limits);
  }

  /**
   * Whether the cold tier holds a record in [from, before): then it stopped at the byte limit, and its next record,
   * not a local one, comes next.
   */
  private async coldHasMore(subject: string, from: number, before: number): Promise<boolean> {
    if (from >= before) return false;
    const next = await this.cold.readRange(subject, from, before, { maxRecords: 1, maxBytes: Number.MAX_SAFE_INTEGER });
    return next.length > 0;
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

/** The caller gave up on the read (read again after each await: the signal may abort meanwhile). */
function abandoned(limits: ReadLimits): boolean {
  return limits.signal?.aborted === true;
}

/** `head` followed by as many of `tail` as the limits leave room for. */
function appendWithin(head: LogRecord[], tail: readonly LogRecord[], limits: ReadLimits): LogRecord[] {
  let bytes = head.reduce((n, r) => n + r.body.length, 0);
  for (const record of tail) {
    if (head.length >= limits.maxRecords || bytes + record.body.length > limits.maxBytes) break;
    head.push(record);
    bytes += record.body.length;
  }
  return head;
}
