import { decodeSegment, encodeSegment } from './codec.js';
import { Family, familyBounds, offsetKey, parseActiveKey, subjectPrefix } from './keys.js';
import type { Db } from './storage.js';

/**
 * At open and at each write recovery: every active segment stops being mirrored (codec.ts SegmentState.mirrored),
 * so it is copied to the cold tier when sealed. Its records written before now are not vouched for: a process
 * killed between LevelDB's batch and the cold tier's acknowledgement, a commit the cold tier refused (the log then
 * failed closed and recovers through here), or a restart from acks=local. Bounded by the active segments (the age
 * index), one synced batch, written only when one was mirrored. A write recovery runs it before it drops the
 * subject states, so none loaded meanwhile still holds a mirrored active segment.
 */
export async function distrustActiveSegments(db: Db): Promise<void> {
  const batch = db.batch();
  for await (const key of db.keys(familyBounds(Family.active))) {
    const { subject, offset } = parseActiveKey(key);
    const segmentKey = offsetKey(subjectPrefix(Family.segment, subject), offset);
    const value = await db.get(segmentKey);
    if (value === undefined) continue;
    const segment = decodeSegment(value);
    if (segment.mirrored) batch.put(segmentKey, encodeSegment({ ...segment, mirrored: false }));
  }
  if (batch.length > 0) await batch.write({ sync: true });
  else await batch.close();
}
