import type { SettledHead } from '../core/index.js';
import { decodeHead, encodeHead } from './codec.js';
import { reservationSettings, type ReservationSettings } from './id-reserver.js';
import { Family, familyBounds, parseHeadKey, parseReservationKey, reservationKey } from './keys.js';
import type { LogOptions } from './options.js';
import { createDb } from './storage.js';

/** Subjects settled per call to the shared store. */
const SETTLE_PER_CALL = 1024;

/** How a partition is released (PartitionedLog.release). */
export interface ReleaseOptions {
  /**
   * A clean hand-over: settle the partition's id reservations down to its subjects' heads (reservation-settle.ts),
   * so the next owner continues each subject at head + 1 with no gap. Called right before each step writes; it must
   * say whether this member still holds the partition's lease (safely ahead of its end), which is what makes
   * lowering them safe (IdReservations.settle). Absent (a lost lease, a shutdown without hand-over): nothing is
   * settled, and the next owner skips to the reservations as after a crash.
   */
  readonly settleWhile?: () => boolean;
  /** Hears why a settle did not happen or failed (the release itself goes on: the reservations stay higher). */
  readonly onSettleError?: (err: Error) => void;
}

/**
 * Settles a released partition's id reservations, once its log has stopped taking appends and written what it
 * accepted, and closed (its database is opened again here, alone, for the two steps):
 * 1. each subject's reservation key (the reservation this disk recorded) is put to its head, synced. Were it left
 *    higher, a later re-acquire of the partition by this member, after another owner appended fewer ids than the
 *    old reservation, would trust the local head (the store's value not being above its key) and reissue that
 *    owner's ids; at head, the reservation pass at open (reservation-recovery.ts) sees the store's higher value and
 *    continues above it.
 * 2. the shared store settles each subject to its head (IdReservations.settle), in calls of SETTLE_PER_CALL, under
 *    the epoch the partition was owned at (refused once a newer owner fenced it: its reservations then stand).
 * In that order: a failure between the two leaves the store higher than the keys, which the next open reads as a
 * crash (the ids up to the store's value become DATA_LOSS and are not reissued); the reverse order could leave the
 * keys higher than the store, the reissue above. Resolves with the number of subjects settled; rejects when a
 * step fails, or when `stillOwner` turns false before one (nothing more is written then).
 */
export async function settleReservations(
  dataDir: string,
  maxOpenFiles: number | undefined,
  settings: ReservationSettings,
  stillOwner: () => boolean,
): Promise<number> {
  if (!stillOwner()) throw new Error(`partition ${settings.partition}: the lease is no longer held, not settled`);
  const heads = await settleLocally(dataDir, maxOpenFiles);
  for (let i = 0; i < heads.length; i += SETTLE_PER_CALL) {
    if (!stillOwner())
      throw new Error(`partition ${settings.partition}: the lease ended while settling, ${i} subjects settled`);
    await settings.store.settle(settings.partition, heads.slice(i, i + SETTLE_PER_CALL), settings.epoch);
  }
  return heads.length;
}

/**
 * PartitionedLog.release's last step, once the partition's log closed: settles its reservations when it has them
 * and the release is a clean hand-over (`release.settleWhile`); a failure goes to `release.onSettleError`.
 */
export async function settleReleased(options: LogOptions, release: ReleaseOptions): Promise<void> {
  const reservations = reservationSettings(options);
  if (reservations === undefined || release.settleWhile === undefined) return;
  await settleReservations(options.dataDir, options.maxOpenFiles, reservations, release.settleWhile).catch(
    (err: unknown) => release.onSettleError?.(err as Error),
  );
}

/** Step 1: every subject's head, with its reservation key put to it (one synced batch). */
async function settleLocally(dataDir: string, maxOpenFiles: number | undefined): Promise<SettledHead[]> {
  const db = createDb(dataDir, maxOpenFiles);
  await db.open();
  try {
    const recorded = new Map<string, number>();
    for await (const [key, value] of db.iterator(familyBounds(Family.reservation)))
      recorded.set(parseReservationKey(key), decodeHead(value));
    const heads: SettledHead[] = [];
    const batch = db.batch();
    for await (const [key, value] of db.iterator(familyBounds(Family.head))) {
      const subject = parseHeadKey(key);
      const lastId = decodeHead(value);
      heads.push({ subject, lastId });
      if (recorded.get(subject) !== lastId) batch.put(reservationKey(subject), encodeHead(lastId));
    }
    if (batch.length > 0) await batch.write({ sync: true });
    else await batch.close();
    return heads;
  } finally {
    await db.close();
  }
}
