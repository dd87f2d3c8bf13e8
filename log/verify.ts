import { copyFile, link, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StorageOpenError } from '../core/index.js';
import { decodeHead, decodeRecordValue, decodeSegment, type SegmentState } from './codec.js';
import { readHighWater } from './high-water.js';
import { Family, familyBounds, offsetKey, parseHeadKey, parseOffsetKey, prefixEnd, subjectPrefix } from './keys.js';
import { allLostRanges, type LostRange } from './lost-ranges.js';
import { neverTrimmed } from './recovery.js';
import { createDb, type Db } from './storage.js';

/** What `verify` found: one line per subject and per problem, and the problems alone. */
export interface VerifyReport {
  readonly lines: string[];
  readonly problems: string[];
  readonly subjects: number;
  readonly records: number;
}

/**
 * Checks a data dir without changing it: every subject's head against its segments' metadata and its records (a
 * full scan: counts, body bytes, holes, records past the head), the lost ranges recorded at open, and the
 * high-water marks of the side file. LevelDB's open writes (it replays its WAL into a table and a new manifest), so
 * the database is opened on a scratch copy: table files, which LevelDB never changes, are hard-linked (copied when
 * linking fails), the rest copied; the copy is removed afterwards.
 */
export async function verifyDataDir(dataDir: string): Promise<VerifyReport> {
  const scratch = await mkdtemp(join(tmpdir(), 'broker-verify-'));
  try {
    await copyDataDir(dataDir, scratch);
    const db = createDb(scratch);
    try {
      await db.open();
    } catch (err) {
      throw new StorageOpenError(dataDir, err);
    }
    try {
      return await verifyDb(db, (await readHighWater(dataDir)).marks);
    } finally {
      await db.close();
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function copyDataDir(from: string, to: string): Promise<void> {
  for (const name of await readdir(from)) {
    if (name === 'LOCK') continue;
    if (/^\d+\.(ldb|sst)$/.test(name)) {
      await link(join(from, name), join(to, name)).catch(() => copyFile(join(from, name), join(to, name)));
    } else {
      await copyFile(join(from, name), join(to, name));
    }
  }
}

async function verifyDb(db: Db, marks: ReadonlyMap<string, number>): Promise<VerifyReport> {
  const lines: string[] = [];
  const problems: string[] = [];
  const lost = await allLostRanges(db);
  const heads = new Map<string, number>();
  for await (const [key, value] of db.iterator(familyBounds(Family.head)))
    heads.set(parseHeadKey(key), decodeHead(value));
  let records = 0;
  for (const [subject, head] of heads) {
    const found = await verifySubject(
      db,
      subject,
      head,
      lost.filter((r) => r.subject === subject),
    );
    records += found.records;
    lines.push(found.line);
    problems.push(...found.problems);
  }
  for (const [subject, mark] of marks) {
    const head = heads.get(subject) ?? 0;
    if (mark > head)
      problems.push(
        `subject "${subject}": ids ${head + 1} to ${mark} were acknowledged (high-water mark ${mark}) but LevelDB's head is ${head}: lost, not yet recorded (the next open records them)`,
      );
  }
  lines.push(
    problems.length === 0
      ? `clean: ${heads.size} subjects, ${records} records`
      : `DAMAGE: ${problems.length} problems in ${heads.size} subjects (${records} records readable)`,
  );
  return { lines: [...lines, ...problems.map((p) => `  ${p}`)], problems, subjects: heads.size, records };
}

async function verifySubject(
  db: Db,
  subject: string,
  head: number,
  lost: readonly LostRange[],
): Promise<{ line: string; records: number; problems: string[] }> {
  const problems: string[] = [];
  for (const r of lost)
    problems.push(`subject "${subject}": ids ${r.from} to ${r.to} (${r.to - r.from + 1}) were acknowledged and lost`);
  const segments = await readSegments(db, subject);
  let records = 0;
  for (const segment of segments) {
    const scan = await scanSegment(db, subject, segment);
    records += scan.count;
    problems.push(...segmentProblems(subject, segment, scan, lost));
  }
  const past = await db
    .keys({
      gt: offsetKey(subjectPrefix(Family.record, subject), head),
      lt: prefixEnd(subjectPrefix(Family.record, subject)),
      limit: 1,
    })
    .all();
  if (past.length > 0) problems.push(`subject "${subject}": records stored past the head ${head}`);
  const line = `subject "${subject}": head ${head}, ${segments.length} segments, ${records} records, ${lost.length} lost ranges`;
  return { line, records, problems };
}

async function readSegments(db: Db, subject: string): Promise<SegmentState[]> {
  const prefix = subjectPrefix(Family.segment, subject);
  const out: SegmentState[] = [];
  for await (const value of db.values({ gte: prefix, lt: prefixEnd(prefix) })) {
    const segment = decodeSegment(value);
    if (!segment.deleting) out.push(segment);
  }
  return out;
}

interface SegmentScan {
  /** Offsets whose record fails its checksum. */
  damaged: number[];
  count: number;
  bytes: number;
  holes: LostRange[];
}

/** Reads every record of the segment: how many, their body bytes, and the offsets it spans without one. */
async function scanSegment(db: Db, subject: string, segment: SegmentState): Promise<SegmentScan> {
  const prefix = subjectPrefix(Family.record, subject);
  const scan: SegmentScan = { damaged: [], count: 0, bytes: 0, holes: [] };
  let expected = segment.baseOffset;
  const range = { gte: offsetKey(prefix, segment.baseOffset), lte: offsetKey(prefix, segment.lastOffset) };
  for await (const [key, value] of db.iterator(range)) {
    const { offset } = parseOffsetKey(key);
    if (offset > expected) scan.holes.push({ subject, from: expected, to: offset - 1 });
    expected = offset + 1;
    // The record's own checksum (codec.ts): a value that fails it is damage, and is not counted as a record.
    const record = decodeRecordValue(subject, offset, key, value);
    if (record === undefined) {
      scan.damaged.push(offset);
      continue;
    }
    scan.count += 1;
    scan.bytes += record.body.length;
  }
  if (segment.count > 0 && expected <= segment.lastOffset)
    scan.holes.push({ subject, from: expected, to: segment.lastOffset });
  return scan;
}

function segmentProblems(
  subject: string,
  segment: SegmentState,
  scan: SegmentScan,
  lost: readonly LostRange[],
): string[] {
  const where = `subject "${subject}", segment ${segment.baseOffset}..${segment.lastOffset}`;
  const problems: string[] = [];
  if (scan.damaged.length > 0)
    problems.push(
      `${where}: ${scan.damaged.length} records fail their checksum (ids ${scan.damaged.slice(0, 10).join(', ')})`,
    );
  // Lost ids inside the segment explain missing records (whether or not its count still includes them).
  const lostIn = lost.reduce(
    (n, r) => n + Math.max(0, Math.min(r.to, segment.lastOffset) - Math.max(r.from, segment.baseOffset) + 1),
    0,
  );
  const explained = lostIn > 0 && scan.count + scan.damaged.length + lostIn >= segment.count;
  if (!explained && scan.damaged.length === 0 && (scan.count !== segment.count || scan.bytes !== segment.bytes))
    problems.push(
      `${where}: metadata says ${segment.count} records of ${segment.bytes} bytes, the records are ${scan.count} of ${scan.bytes} bytes`,
    );
  if (neverTrimmed(segment)) {
    for (const hole of scan.holes) {
      if (lost.some((r) => r.from <= hole.from && r.to >= hole.to)) continue;
      problems.push(
        `${where}: ids ${hole.from} to ${hole.to} have no record and were never removed: lost, not yet recorded`,
      );
    }
  }
  return problems;
}
