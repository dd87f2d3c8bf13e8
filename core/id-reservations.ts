/**
 * Id reservations (issue 13): per partition and subject, the highest id any owner may have handed out, kept in a
 * store every member reaches (ScyllaDB in production, memory in tests). An owner raises a subject's reservation
 * before it acknowledges an id above it, so whoever takes the partition next (a new owner, or the same broker on an
 * empty or damaged disk) starts above every id that may have been acknowledged: ids are never reissued, and those it
 * cannot serve answer DATA_LOSS. The store owns only the numbers, which only go up, save one exception: a clean
 * hand-over settles them down to the exact last ids (settle()), so the next owner continues with no gap.
 *
 * Fencing: the numbers are also where a stale owner is stopped. A stale owner (paused past its lease between its
 * lease check and its write, or with a clock beyond the drift bound) raising a reservation above the one the new
 * owner started from would acknowledge ids the new owner issues too. So every write carries the epoch of the lease
 * it is made under (the partition's ownership epoch, OwnershipStore), and each partition has a fence: the owner
 * that acquires the partition at epoch e first fences it at e (fence()), then reads the reservations. A reserve()
 * or settle() whose epoch is below the fence is refused whole, changing nothing, with FencedError (NOT_OWNER); the
 * fence never goes down. Epoch 0 is a broker alone (no cluster, nobody fences): its writes pass while no fence was
 * set. The store excludes who owns the partition (OwnershipStore) and keeps no records.
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
   * Raises the partition's fence to `epoch` (the epoch its caller has just acquired it at), so every later
   * reserve() or settle() made under a lower epoch is refused; resolves once the store has acknowledged it. Rejects
   * with FencedError, changing nothing, when the fence is already above `epoch` (the caller is stale itself); at
   * `epoch` already it resolves (idempotent: a retry, or a log reopened under the same lease). Called before the
   * reservations are read, so the read sees every raise a stale owner got in before the fence, and none after.
   */
  fence(partition: number, epoch: number): Promise<void>;
  /**
   * Raises each subject's reservation to at least its `upTo` and resolves once the store has acknowledged all of
   * them (rejects when it cannot say so: then some, none or all may have been written). Never lowers one: a
   * concurrent or late write of a lower number leaves the higher one in place. Made under lease epoch `epoch`:
   * refused whole with FencedError (nothing written) when the partition's fence is above it.
   */
  reserve(partition: number, entries: readonly IdReservation[], epoch: number): Promise<void>;
  /**
   * Sets each subject's reservation to exactly its `lastId` (lowering it, the usual case: the ids reserved ahead
   * were never handed out), so the next owner continues each subject at lastId + 1 with no gap and no DATA_LOSS
   * range. Resolves once the store has acknowledged all of them (rejects when it cannot say so: then some, none or
   * all may have been settled, which is safe: a reservation left higher only means the gap of a crash).
   *
   * Precondition (the caller's): only the partition's current owner calls it, after its last append to the
   * partition was written, while it still holds the lease (before releasing it), with `lastId` the subject's head
   * (every id it or an earlier owner may have acknowledged is at most that). While the lease (at its epoch) is
   * held nobody else owns the partition, so nobody else raises its reservations meanwhile, and a lower number
   * cannot hide an id acknowledged by someone else; once the owner stops appending, its own reservations above its
   * heads cover ids it never handed out. The store checks what it can: made under `epoch`, it is refused whole with
   * FencedError when a newer owner has fenced the partition (a member whose lease was lost cannot lower what the
   * new owner raised).
   * A subject absent from `heads` keeps its reservation.
   */
  settle(partition: number, heads: readonly SettledHead[], epoch: number): Promise<void>;
}
