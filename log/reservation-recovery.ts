import type { IdReservation } from '../core/index.js';
import { decodeHead, encodeHead } from './codec.js';
import { Family, familyBounds, headKey, parseHeadKey, parseReservationKey, reservationKey } from './keys.js';
import type { ReservationSettings } from './id-reserver.js';
import { lostRangeOp } from './lost-ranges.js';
import type { FoundLoss } from './recovery.js';
import type { Db } from './storage.js';

/** Reservations raised per call at open (subjects whose head is above what the store holds). */
const RESERVE_AT_OPEN = 1024;

/**
 * The reservation pass at open (after the high-water pass, recovery.ts), against the shared store's reservations of
 * this partition (read with one query; the open fails with UnavailableError when the store cannot be read). A
 * cluster member's log (epoch > 0) first fences the partition at its epoch, so the read sees every raise of an
 * earlier owner that will ever apply (FencedError when a newer owner fenced it already):
 * 1. a subject whose reservation in the store is above both its local head and the reservation this database
 *    recorded (its reservation key) may have had ids up to it acknowledged that this disk does not hold: the disk
 *    was wiped or damaged, or another owner appended since this copy was made. Ids head+1..reserved become a lost
 *    range (DATA_LOSS) and the head is raised to it, so the next id is above everything that may have been
 *    acknowledged; a subject the disk does not have at all is created so (head = reserved, nothing stored). When the
 *    store's value is the one this database recorded, the local head is exact (the high-water pass saw to it) and
 *    nothing is skipped: a clean restart loses no ids.
 * 2. a reservation key above the store's value (the store's write failed after LevelDB's batch, or the store was
 *    reset) is put back to the store's value: the key is what a loaded state trusts.
 * 3. a subject whose head is above its reservation (records LevelDB wrote in a batch the store refused, or a dir from
 *    before reservations) is reserved head + chunk now, before the log serves, so no id it holds can be reissued.
 * All of it is written in one synced batch.
 */
export async function recoverReservations(db: Db, settings: ReservationSettings): Promise<FoundLoss[]> {
  if (settings.epoch > 0) await settings.store.fence(settings.partition, settings.epoch);
  const shared = await settings.store.reserved(settings.partition);
  const recorded = new Map<string, number>();
  for await (const [key, value] of db.iterator(familyBounds(Family.reservation)))
    recorded.set(parseReservationKey(key), decodeHead(value));
  const heads = new Map<string, number>();
  for await (const [key, value] of db.iterator(familyBounds(Family.head)))
    heads.set(parseHeadKey(key), decodeHead(value));
  const batch = db.batch();
  const found: FoundLoss[] = [];
  const reservation = new Map<string, number>();
  for (const [subject, reserved] of shared) {
    const head = heads.get(subject) ?? 0;
    const mine = recorded.get(subject) ?? 0;
    reservation.set(subject, reserved);
    if (reserved > mine && reserved > head) {
      const detail = `ids up to ${reserved} were reserved in the shared store, but this disk holds ${head} and had reserved ${mine} (a wiped or damaged disk, or another owner appended since)`;
      found.push({ subject, from: head + 1, to: reserved, detail });
      heads.set(subject, reserved);
      batch.put(headKey(subject), encodeHead(reserved));
    }
    if (reserved !== mine) batch.put(reservationKey(subject), encodeHead(reserved));
  }
  for (const subject of recorded.keys()) if (!shared.has(subject)) batch.del(reservationKey(subject));
  const due: IdReservation[] = [];
  for (const [subject, head] of heads)
    if (head > (reservation.get(subject) ?? 0)) due.push({ subject, upTo: head + settings.chunk });
  for (let i = 0; i < due.length; i += RESERVE_AT_OPEN)
    await settings.store.reserve(settings.partition, due.slice(i, i + RESERVE_AT_OPEN), settings.epoch);
  for (const { subject, upTo } of due) batch.put(reservationKey(subject), encodeHead(upTo));
  for (const loss of found) {
    const op = lostRangeOp(loss);
    batch.put(op.key, op.value);
  }
  if (batch.length > 0) await batch.write({ sync: true });
  else await batch.close();
  return found;
}
