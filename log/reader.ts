import pLimit from 'p-limit';
import {
  InvalidIdError,
  type LogReader,
  type LogRecord,
  type LookupResult,
  type ReadLimits,
  type SubjectInfo,
  type SubjectQuery,
  type LogObserver,
  type TailCursor,
} from '../core/index.js';
import type { GroupCommit } from './group-commit.js';
import { Family, headKey, parseHeadKey, prefixEnd } from './keys.js';
import { readStoredRecord, readStoredRecords, type Db } from './storage.js';
import type { SubjectCache } from './subject-cache.js';
import type { SubjectState } from './subject-state.js';
import type { TailCacheBudget } from './tail-cache-budget.js';
import { lostReason } from './lost-ranges.js';
import { LogTailCursor } from './tail-cursor.js';

/** Body bytes per disk read of a tail cursor: with STORED_BATCH records, what one lagging subscriber holds at most. */
const STORED_BATCH_BYTES = 256 * 1024;

/**
 * The read side: lookups by offset, range reads, subject metadata and tail cursors. Reads use the subject's state
 * in memory when it is there and load it (unpinned) when it is not; unknown subjects get no state.
 */
export class Reader implements LogReader {
  private readonly cursors = new Set<LogTailCursor>();
  /**
   * Disk reads of lagging tail cursors, at most two at a time. LevelDB work runs on libuv's four threads, and a
   * thousand lagging subscribers would otherwise queue a thousand reads there, ahead of the next group commit: the
   * publishers would wait for the slow subscribers. Queued here instead, the reads leave threads for the writes.
   */
  private readonly cursorReads = pLimit(2);

  constructor(
    private readonly db: Db,
    private readonly subjects: SubjectCache,
    private readonly commit: GroupCommit,
    private readonly tailCache: TailCacheBudget,
    /** Hears of stored records that fail their checksum (those reads throw DataLossError). */
    private readonly observer: LogObserver | undefined,
  ) {}

  async get(subject: string, offset: number): Promise<LookupResult> {
    const state = this.subjects.cached(subject) ?? (await this.subjects.existing(subject));
    if (state === undefined || offset < 1 || offset > state.lastOffset) {
      return { kind: 'never', lastOffset: state?.lastOffset ?? 0 };
    }
    const cached = state.cacheRead(offset, 1)[0];
    if (cached !== undefined) return { kind: 'record', record: cached };
    // Cached records never left memory; a stored one is checked against its checksum (DataLossError if it fails).
    const record = await readStoredRecord(this.db, state, offset, this.observer);
    if (record === undefined) return this.missing(state, offset);
    return { kind: 'record', record };
  }

  /** An acknowledged offset without a record: lost with damaged files (lost-ranges.ts), or removed by deletion. */
  private async missing(state: SubjectState, offset: number): Promise<LookupResult> {
    const lost = await lostReason(this.db, state, offset);
    return lost === undefined ? { kind: 'removed', firstOffset: state.firstOffset } : { kind: 'lost', detail: lost };
  }

  async readRange(subject: string, fromOffset: number, limits: ReadLimits): Promise<LogRecord[]> {
    const state = this.subjects.cached(subject) ?? (await this.subjects.existing(subject));
    if (state === undefined) return [];
    return readStoredRecords(this.db, state, Math.max(fromOffset, 1), state.lastOffset, limits, this.observer);
  }

  async tail(subject: string, from: number | 'live'): Promise<TailCursor> {
    const refused = this.commit.refusal();
    if (refused !== undefined) throw refused;
    if (from !== 'live' && !Number.isSafeInteger(from))
      throw new InvalidIdError(subject, from, `from_id ${from} is not an integer`);
    const state = await this.subjects.acquire(subject);
    this.subjects.release(state);
    // close() may have begun while the state loaded: it would never end a cursor opened now.
    const closing = this.commit.refusal();
    if (closing !== undefined) throw closing;
    if (from !== 'live' && from > state.lastOffset + 1) {
      this.subjects.evict();
      throw new InvalidIdError(subject, from, `from_id is beyond the next id ${state.lastOffset + 1}`);
    }
    const position = from === 'live' ? state.nextOffset : Math.max(from, state.firstOffset, 1);
    return this.openCursor(state, position);
  }

  private openCursor(state: SubjectState, position: number): LogTailCursor {
    if (state.cursors === 0) {
      state.cache = [];
      state.cacheStart = state.lastOffset + 1;
    }
    state.cursors += 1;
    const cursor = new LogTailCursor(
      state,
      position,
      (s, fromOffset, toOffset, max) =>
        this.cursorReads(() =>
          readStoredRecords(
            this.db,
            s,
            fromOffset,
            toOffset,
            { maxRecords: max, maxBytes: STORED_BATCH_BYTES },
            this.observer,
          ),
        ),
      (c) => {
        this.cursors.delete(c);
        state.cursors -= 1;
        if (state.cursors === 0) this.tailCache.clear(state);
      },
    );
    this.cursors.add(cursor);
    return cursor;
  }

  /** Ends every open cursor (their next() resolves []): the log is closing. */
  closeCursors(): void {
    for (const cursor of [...this.cursors]) cursor.close();
  }

  /** Ends every open cursor with `err` (their next() rejects): the subject states they follow are being dropped. */
  failCursors(err: Error): void {
    for (const cursor of [...this.cursors]) cursor.fail(err);
  }

  async subjectInfo(subject: string): Promise<SubjectInfo | undefined> {
    const state = this.subjects.cached(subject) ?? (await this.subjects.existing(subject));
    // A subject that was only tailed, never published to, is in memory but does not exist yet.
    return state === undefined || state.lastOffset === 0 ? undefined : subjectInfoOf(state);
  }

  async listSubjects(query: SubjectQuery): Promise<SubjectInfo[]> {
    const subjects = await this.listSubjectNames(query);
    const out: SubjectInfo[] = [];
    for (const subject of subjects) {
      // Each subject may load its state from disk; an abandoned call stops here with what it has.
      if (query.signal?.aborted === true) break;
      out.push(subjectInfoOf(await this.subjects.load(subject)));
    }
    return out;
  }

  /** The names of a page of subjects (head keys only: no state is loaded). */
  async listSubjectNames(query: SubjectQuery): Promise<string[]> {
    const prefix = query.prefix ?? '';
    const lower = headKey(prefix);
    const upper = prefix === '' ? Buffer.from([Family.head + 1]) : prefixEnd(lower);
    const range =
      query.after !== undefined && query.after >= prefix
        ? { gt: headKey(query.after), lt: upper }
        : { gte: lower, lt: upper };
    const subjects: string[] = [];
    for await (const key of this.db.keys({ ...range, limit: query.limit })) subjects.push(parseHeadKey(key));
    return subjects;
  }
}

/** A subject's metadata, counting acknowledged records only. */
function subjectInfoOf(state: SubjectState): SubjectInfo {
  let count = 0;
  let bytes = 0;
  let sealed = 0;
  let replicated = 0;
  for (const s of state.segments) {
    if (s.lastOffset > state.lastOffset) {
      // Appends in flight: count what is acknowledged only.
      continue;
    }
    count += s.count;
    bytes += s.bytes;
    if (s.sealed) sealed += 1;
    if (s.replicated) replicated += 1;
  }
  return {
    subject: state.subject,
    firstOffset: state.firstOffset,
    lastOffset: state.lastOffset,
    count,
    bytes,
    segments: state.segments.length,
    sealedSegments: sealed,
    replicatedSegments: replicated,
  };
}
