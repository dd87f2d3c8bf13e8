/**
 * Id reservations (issue 13): per partition and subject, the highest id any owner may have handed out, kept in a
 * store every member reaches (ScyllaDB in production, memory in tests). An owner raises a subject's reservation
 * before it acknowledges an id above it, so whoever takes the partition next (a new owner, or the same broker on an
 * empty or damaged disk) starts above every id that may have been acknowledged: ids are never reissued, and those it
 * cannot serve answer DATA_LOSS. The store owns only the numbers, which only go up, save one exception: a clean
 * hand-over settles them down to the exact last ids (settle()), so the next owner continues with no gap.
 * It excludes who owns the partition (OwnershipStore) and fencing a stale owner (a stale owner raising a
 * reservation is harmless: the number only grows); it keeps no records.
 */

/** Raise `subject`'s reservation to at least `upTo`. */
export interface IdReservation {
  readonly subject: string;
  /** The highest id the caller may hand out once the reservation is written. */
  readonly upTo: number;
}

/** A subject's exact last id, for settle(). */
export interface SettledHead {
  readonly subject: string;
  readonly lastId: number;
}

export interface IdReservations {
  /** The highest id reserved per subject of the partition (subjects never reserved are absent). */
  reserved(partition: number): Promise<Map<string, number>>;
  /**
   * Raises each subject's reservation to at least its `upTo` and resolves once the store has acknowledged all of
   * them (rejects when it cannot say so: then some, none or all may have been written). Never lowers one: a
   * concurrent or late write of a lower number leaves the higher one in place.
   */
  reserve(partition: number, entries: readonly IdReservation[]): Promise<void>;
  /**
   * Sets each subject's reservation to exactly its `lastId` (lowering it, the usual case: the ids reserved ahead
   * were never handed out), so the next owner continues each subject at lastId + 1 with no gap and no DATA_LOSS
   * range. Resolves once the store has acknowledged all of them (rejects when it cannot say so: then some, none or
   * all may have been settled, which is safe: a reservation left higher only means the gap of a crash).
   *
   * Precondition (the caller's, the store cannot check it): only the partition's current owner calls it, after its
   * last append to the partition was written, while it still holds the lease (before releasing it), with `lastId`
   * the subject's head (every id it or an earlier owner may have acknowledged is at most that). It is safe because
   * of fencing: while the lease (at its epoch) is held nobody else owns the partition, so nobody else raises its
   * reservations meanwhile, and a lower number cannot hide an id acknowledged by someone else; once the owner stops
   * appending, its own reservations above its heads cover ids it never handed out. A member whose lease was lost
   * must never call it (a new owner may already have raised the reservations).
   * A subject absent from `heads` keeps its reservation.
   */
  settle(partition: number, heads: readonly SettledHead[]): Promise<void>;
}
