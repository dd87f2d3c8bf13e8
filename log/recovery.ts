import { decodeHead, decodeSegment, encodeHead, type SegmentState } from './codec.js';
import {
  Family,
  familyBounds,
  headKey,
  offsetKey,
  parseHeadKey,
  parseOffsetKey,
  prefixEnd,
  subjectPrefix,
} from './keys.js';
import { lostRangeOp, lostRanges, type LostRange } from './lost-ranges.js';
import type { Db } from './storage.js';

/** A lost range found by the recovery pass, with what gave it away. */
export interface FoundLoss extends LostRange {
  readonly detail: string;
}

/**
 * The recovery pass at open, bounded to the heads and the last segment of each subject (never a full scan):
 * 1. a subject whose high-water mark (side file) is above its LevelDB head lost the acknowledged ids between to a
 *    torn or damaged WAL: the head is raised to the mark, so the next id is above every id ever acknowledged;
 * 2. a hole among the records of a subject's last segment, when that segment never had records deleted (active, or
 *    its count still spans it), is acknowledged ids lost to a damaged WAL block or table file.
 * Both are recorded as lost ranges (not yet recorded ones only), with the raised heads, in one synced batch.
 */
export async function recoverLostIds(db: Db, marks: ReadonlyMap<string, number>): Promise<FoundLoss[]> {
  const found: FoundLoss[] = [];
  const raised = new Map<string, number>();
  for (const [subject, mark] of marks) {
    const head = await readHead(db, subject);
    if (mark <= head) continue;
    raised.set(subject, mark);
    const detail = `the high-water mark is ${mark} but LevelDB's head is ${head} (a torn or damaged write-ahead log)`;
    found.push({ subject, from: head + 1, to: mark, detail });
  }
  const subjects: string[] = [];
  for await (const key of db.keys(familyBounds(Family.head))) subjects.push(parseHeadKey(key));
  for (const subject of subjects) found.push(...(await holesInLastSegment(db, subject)));
  const recorded = await Promise.all(found.map(async (f) => isRecorded(db, f)));
  const fresh = found.filter((_, i) => recorded[i] !== true);
  if (fresh.length === 0 && raised.size === 0) return [];
  const batch = db.batch();
  for (const loss of fresh) {
    const op = lostRangeOp(loss);
    batch.put(op.key, op.value);
  }
  for (const [subject, mark] of raised) batch.put(headKey(subject), encodeHead(mark));
  await batch.write({ sync: true });
  return fresh;
}

async function readHead(db: Db, subject: string): Promise<number> {
  const value = await db.get(headKey(subject));
  return value === undefined ? 0 : decodeHead(value);
}

async function isRecorded(db: Db, loss: LostRange): Promise<boolean> {
  const ranges = await lostRanges(db, loss.subject, loss.to);
  return ranges.some((r) => r.from <= loss.from && r.to >= loss.to);
}

/** The subject's last segment, if it has one. */
export async function lastSegment(db: Db, subject: string): Promise<SegmentState | undefined> {
  const prefix = subjectPrefix(Family.segment, subject);
  const values = await db.values({ gte: prefix, lt: prefixEnd(prefix), reverse: true, limit: 1 }).all();
  const value = values[0];
  return value === undefined ? undefined : decodeSegment(value);
}

/** Whether a segment never had records deleted: then every offset it spans must have its record. */
export function neverTrimmed(segment: SegmentState): boolean {
  return !segment.deleting && (!segment.sealed || segment.count === segment.lastOffset - segment.baseOffset + 1);
}

async function holesInLastSegment(db: Db, subject: string): Promise<FoundLoss[]> {
  const segment = await lastSegment(db, subject);
  if (segment === undefined || segment.count === 0 || !neverTrimmed(segment)) return [];
  const upper = Math.min(segment.lastOffset, await readHead(db, subject));
  const holes = await missingOffsets(db, subject, segment.baseOffset, upper);
  return holes.map((h) => ({
    ...h,
    detail: `records missing from segment ${segment.baseOffset}, which never had records removed (a damaged file)`,
  }));
}

/** The ranges of offsets in [from, to] that have no record, by one key scan. */
export async function missingOffsets(db: Db, subject: string, from: number, to: number): Promise<LostRange[]> {
  const prefix = subjectPrefix(Family.record, subject);
  const holes: LostRange[] = [];
  let expected = from;
  for await (const key of db.keys({ gte: offsetKey(prefix, from), lte: offsetKey(prefix, to) })) {
    const { offset } = parseOffsetKey(key);
    if (offset > expected) holes.push({ subject, from: expected, to: offset - 1 });
    expected = offset + 1;
  }
  if (expected <= to) holes.push({ subject, from: expected, to });
  return holes;
}
