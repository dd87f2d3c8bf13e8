import { Level } from 'level';
import { DataLossError, type LogObserver, type LogRecord, type SegmentInfo, type SegmentQuery } from '../core/index.js';
import { decodeHead, decodeRecordValue, decodeSegment, segmentInfo, type SegmentState } from './codec.js';
import { notify } from './notify.js';
import {
  Family,
  familyBounds,
  headKey,
  offsetKey,
  parseOffsetKey,
  prefixEnd,
  readUint64BE,
  reservationKey,
  subjectPrefix,
} from './keys.js';
import { SubjectState } from './subject-state.js';

/**
 * The log's LevelDB database: binary keys and values (see keys.ts and codec.ts). Opened through `level`, which on
 * Node is classic-level itself (its `Level` is the `ClassicLevel` class), so sync writes, chained batches and every
 * open option are classic-level's. Only level's typings differ: they say get() and getMany() always find a value,
 * where abstract-level resolves undefined for a missing key. This type says so, so the compiler makes us check.
 */
export interface Db extends Omit<Level<Buffer, Buffer>, 'get' | 'getMany'> {
  get(key: Buffer): Promise<Buffer | undefined>;
  getMany(keys: Buffer[]): Promise<Array<Buffer | undefined>>;
}

/**
 * Files LevelDB may hold open (its table cache, plus about 10 for the WAL, manifest, lock and info log), set here
 * rather than left to classic-level's 1000 so that the broker can reserve them out of the process's descriptor
 * limit before it sizes its connection budget (api/server/fd-budget.ts). A table file not in the cache is reopened
 * on a read: a cost on very large logs, never a failure.
 */
export const LEVELDB_MAX_OPEN_FILES = 256;

/** LevelDB keeps at least this many files open whatever it is asked (it clips max_open_files to 64 + 10). */
export const LEVELDB_MIN_OPEN_FILES = 74;

/** LevelDB's memory: its block cache and its write buffer (of which two may be resident during a flush), bytes. */
export interface LevelDbMemory {
  readonly cacheBytes?: number;
  readonly writeBufferBytes?: number;
}

export function createDb(dataDir: string, maxOpenFiles = LEVELDB_MAX_OPEN_FILES, memory: LevelDbMemory = {}): Db {
  return new Level<Buffer, Buffer>(dataDir, {
    keyEncoding: 'buffer',
    valueEncoding: 'buffer',
    maxOpenFiles,
    ...(memory.cacheBytes === undefined ? {} : { cacheSize: memory.cacheBytes }),
    ...(memory.writeBufferBytes === undefined ? {} : { writeBufferSize: memory.writeBufferBytes }),
  });
}

/**
 * How many subjects the log holds: one head key each, written with a subject's first records and never deleted.
 * Keys only (no values), once at open; the subject cache keeps the count from there.
 */
export async function countSubjects(db: Db): Promise<number> {
  let count = 0;
  const it = db.keys(familyBounds(Family.head));
  try {
    for (;;) {
      const keys = await it.nextv(4096);
      if (keys.length === 0) return count;
      count += keys.length;
    }
  } finally {
    await it.close();
  }
}

/** Loads a subject's state from disk: its head, its segments' metadata and one seek for its first stored offset. */
export async function readSubjectState(db: Db, subject: string): Promise<SubjectState> {
  // One native call for both: the reservation key is read whether or not reservations are used (a missing key).
  const [head, reserved] = await db.getMany([headKey(subject), reservationKey(subject)]);
  const lastOffset = head === undefined ? 0 : decodeHead(head);
  const segPrefix = subjectPrefix(Family.segment, subject);
  const segments: SegmentState[] = [];
  if (lastOffset > 0) {
    for await (const value of db.values({ gte: segPrefix, lt: prefixEnd(segPrefix) })) {
      const segment = decodeSegment(value);
      if (!segment.deleting) segments.push(segment);
    }
  }
  const state = new SubjectState(subject, lastOffset, lastOffset + 1, segments);
  if (reserved !== undefined) state.reservedHigh = decodeHead(reserved);
  state.firstOffset = await firstStoredOffset(db, state);
  return state;
}

/**
 * One seek: the first stored record's offset, or lastOffset + 1 when nothing is stored. The seek starts at the
 * first segment that still holds records, so it does not wade through the tombstones of deleted segments.
 */
export async function firstStoredOffset(db: Db, state: SubjectState): Promise<number> {
  if (state.lastOffset === 0) return 1;
  const from = state.segments.find((s) => s.count > 0 && !s.deleting)?.baseOffset;
  if (from === undefined || from > state.lastOffset) return state.lastOffset + 1;
  const keys = await db
    .keys({ gte: offsetKey(state.recordPrefix, from), lte: offsetKey(state.recordPrefix, state.lastOffset), limit: 1 })
    .all();
  const first = keys[0];
  return first === undefined ? state.lastOffset + 1 : parseOffsetKey(first).offset;
}

/**
 * The stored record at `offset`, checked against its checksum, or undefined when nothing is stored there. A record
 * that fails its checksum is never returned: the observer hears of it and the read throws DataLossError.
 */
export async function readStoredRecord(
  db: Db,
  state: SubjectState,
  offset: number,
  observer: LogObserver | undefined,
): Promise<LogRecord | undefined> {
  const key = offsetKey(state.recordPrefix, offset);
  const value = await db.get(key);
  if (value === undefined) return undefined;
  return decodeRecordValue(state.subject, offset, key, value) ?? damaged(state.subject, offset, observer);
}

/**
 * Stored records of a subject with fromOffset <= offset <= toOffset, in order, within the limits (at least one if
 * any), each checked against its checksum. The read stops before a record that fails it: the records before it are
 * returned, and the read that starts at it throws DataLossError (the observer hears of it then), so a reader gets
 * every good record up to the damage, then the error, and never the damaged record.
 */
export async function readStoredRecords(
  db: Db,
  state: SubjectState,
  fromOffset: number,
  toOffset: number,
  limits: { readonly maxRecords: number; readonly maxBytes?: number; readonly signal?: AbortSignal | undefined },
  observer: LogObserver | undefined,
): Promise<LogRecord[]> {
  const { maxRecords, maxBytes = Number.POSITIVE_INFINITY, signal } = limits;
  if (fromOffset > toOffset || maxRecords <= 0) return [];
  const out: LogRecord[] = [];
  let bytes = 0;
  const it = db.iterator({
    gte: offsetKey(state.recordPrefix, fromOffset),
    lte: offsetKey(state.recordPrefix, toOffset),
    limit: maxRecords,
  });
  try {
    // An abandoned call stops between batches: a shorter page is still a valid page.
    while (signal?.aborted !== true) {
      const entries = await it.nextv(Math.min(1000, maxRecords - out.length));
      if (entries.length === 0) break;
      for (const [key, value] of entries) {
        // The subject is known: only the trailing 8-byte offset needs decoding.
        const offset = readUint64BE(key, key.length - 8);
        const record = decodeRecordValue(state.subject, offset, key, value);
        if (record === undefined) {
          if (out.length > 0) return out;
          damaged(state.subject, offset, observer);
        }
        if (out.length > 0 && bytes + record.body.length > maxBytes) return out;
        out.push(record);
        bytes += record.body.length;
      }
      if (out.length >= maxRecords) break;
    }
  } finally {
    await it.close();
  }
  return out;
}

/** A stored record failed its checksum: the observer hears of it, and the read fails with DataLossError. */
function damaged(subject: string, offset: number, observer: LogObserver | undefined): never {
  notify(() => observer?.checksumMismatch?.(subject, offset));
  throw new DataLossError(subject, offset, 'its stored record failed its checksum (CRC32C); it is not served');
}

/**
 * Segments listed by a (subject, baseOffset) key family (segments or unreplicated), in key order. Metadata comes
 * from `inMemory` when the subject is loaded (it may be newer), else from disk: a sweep over many subjects neither
 * loads their states nor churns the subject cache.
 */
export async function scanSegments(
  db: Db,
  family: Family,
  options: SegmentQuery,
  inMemory: (subject: string, baseOffset: number) => SegmentState | undefined,
): Promise<SegmentInfo[]> {
  const bounds = familyBounds(family);
  const range =
    options.after === undefined
      ? bounds
      : { gt: offsetKey(subjectPrefix(family, options.after.subject), options.after.baseOffset), lt: bounds.lt };
  const found: Array<{ subject: string; offset: number; segment: SegmentState | undefined }> = [];
  for await (const key of db.keys({ ...range, limit: options.limit })) {
    const { subject, offset } = parseOffsetKey(key);
    found.push({ subject, offset, segment: inMemory(subject, offset) });
  }
  const missing = found.filter((f) => f.segment === undefined);
  if (missing.length > 0) {
    const values = await db.getMany(missing.map((m) => offsetKey(subjectPrefix(Family.segment, m.subject), m.offset)));
    missing.forEach((m, i) => {
      const value = values[i];
      if (value !== undefined) m.segment = decodeSegment(value);
    });
  }
  const out: SegmentInfo[] = [];
  for (const { subject, segment } of found)
    if (segment !== undefined && !segment.deleting) out.push(segmentInfo(subject, segment));
  return out;
}

/** Completes segment deletions that a crash interrupted: records cleared, metadata and markers removed. */
export async function finishInterruptedDeletes(db: Db): Promise<void> {
  // Only the deletion markers are scanned, so opening does not read every segment's metadata.
  const pending: Array<{ subject: string; offset: number }> = [];
  for await (const key of db.keys(familyBounds(Family.deleting))) pending.push(parseOffsetKey(key));
  for (const { subject, offset } of pending) {
    const segmentKey = offsetKey(subjectPrefix(Family.segment, subject), offset);
    const value = await db.get(segmentKey);
    if (value !== undefined) {
      const prefix = subjectPrefix(Family.record, subject);
      await db.clear({ gte: offsetKey(prefix, offset), lte: offsetKey(prefix, decodeSegment(value).lastOffset) });
    }
    await db.batch(
      [
        { type: 'del', key: segmentKey },
        { type: 'del', key: offsetKey(subjectPrefix(Family.unreplicated, subject), offset) },
        { type: 'del', key: offsetKey(subjectPrefix(Family.deleting, subject), offset) },
      ],
      { sync: true },
    );
  }
}
