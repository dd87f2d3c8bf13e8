import { decodeHead, encodeHead } from './codec.js';
import { Family, offsetKey, parseOffsetKey, subjectPrefix } from './keys.js';
import type { Db } from './storage.js';
import type { SubjectState } from './subject-state.js';

/** Acknowledged offsets [from, to] of a subject that were lost with damaged files. */
export interface LostRange {
  readonly subject: string;
  readonly from: number;
  readonly to: number;
}

/** The put that records a lost range (its value is the inclusive end, a u64 like a head). */
export function lostRangeOp(range: LostRange): { type: 'put'; key: Buffer; value: Buffer } {
  return {
    type: 'put',
    key: offsetKey(subjectPrefix(Family.lost, range.subject), range.from),
    value: encodeHead(range.to),
  };
}

/** Every recorded lost range of a subject, in offset order (a subject has few: one per damaging crash). */
export async function lostRanges(db: Db, subject: string, upTo = Number.MAX_SAFE_INTEGER): Promise<LostRange[]> {
  const prefix = subjectPrefix(Family.lost, subject);
  const out: LostRange[] = [];
  for await (const [key, value] of db.iterator({ gte: prefix, lte: offsetKey(prefix, upTo) }))
    out.push({ subject, from: parseOffsetKey(key).offset, to: decodeHead(value) });
  return out;
}

/** Every recorded lost range of every subject (for verify). */
export async function allLostRanges(db: Db): Promise<LostRange[]> {
  const out: LostRange[] = [];
  for await (const [key, value] of db.iterator({
    gte: Buffer.from([Family.lost]),
    lt: Buffer.from([Family.lost + 1]),
  })) {
    const { subject, offset } = parseOffsetKey(key);
    out.push({ subject, from: offset, to: decodeHead(value) });
  }
  return out;
}

/**
 * Why a missing record at `offset` (≤ the head) is lost rather than removed, or undefined when it was removed:
 * a recorded lost range holds it, or its segment never had records deleted (it is active, where deletion never
 * works, or its count still spans every offset), so the record went missing with a damaged file.
 */
export async function lostReason(db: Db, state: SubjectState, offset: number): Promise<string | undefined> {
  const recorded = (await lostRanges(db, state.subject, offset)).find((r) => r.to >= offset);
  if (recorded !== undefined)
    return `ids ${recorded.from} to ${recorded.to} were lost with damaged files (recorded at open)`;
  const segment = state.segments.find((s) => s.baseOffset <= offset && offset <= s.lastOffset);
  if (segment === undefined || segment.deleting) return undefined;
  const whole = segment.count === segment.lastOffset - segment.baseOffset + 1;
  if (!segment.sealed || whole)
    return `its record is missing from segment ${segment.baseOffset}, which never had records removed`;
  return undefined;
}
