/**
 * Id reservations (issue 13): per partition and subject, the highest id any owner may have handed out, kept in a
 * store every member reaches (ScyllaDB in production, memory in tests). An owner raises a subject's reservation
 * before it acknowledges an id above it, so whoever takes the partition next (a new owner, or the same broker on an
 * empty or damaged disk) starts above every id that may have been acknowledged: ids are never reissued, and those it
 * cannot serve answer DATA_LOSS. The store owns only the numbers, which never go down.
 * It excludes who owns the partition (OwnershipStore) and fencing a stale owner (a stale owner raising a
 * reservation is harmless: the number only grows); it keeps no records.
 */

/** Raise `subject`'s reservation to at least `upTo`. */
export interface IdReservation {
  readonly subject: string;
  /** The highest id the caller may hand out once the reservation is written. */
  readonly upTo: number;
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
}
