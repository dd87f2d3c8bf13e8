import { InvariantError, type IdReservation, type IdReservations } from '../core/index.js';
import { encodeHead } from './codec.js';
import { reservationKey } from './keys.js';
import type { SubjectState } from './subject-state.js';

/** Ids reserved ahead of the head per subject when no chunk is set (BROKER_ID_RESERVATION's default). */
export const DEFAULT_ID_RESERVATION_CHUNK = 10_000;

/** The reservations one group commit raises, with the states they are for (same order). */
export interface DueReservations {
  readonly entries: IdReservation[];
  readonly states: SubjectState[];
}

/**
 * Where a LevelDbLog keeps its id reservations: the shared store, under its partition, `chunk` ids ahead, written
 * under the lease epoch the partition is owned at (0: a broker alone).
 */
export interface ReservationSettings {
  readonly store: IdReservations;
  readonly partition: number;
  readonly chunk: number;
  readonly epoch: number;
}

/**
 * Raises id reservations from the group commit (group-commit.ts): before a batch acknowledges a head above what its
 * subject has reserved, the reservation goes to head + chunk, written to the shared store in parallel with the batch;
 * the appends wait for both. Reserving a chunk ahead means almost no batch needs a write (one per `chunk` ids per
 * subject, and one at a subject's first batch after its state was loaded without a reservation).
 * The batch also records the new reservation locally (the reservation key), so a reloaded state knows it; should the
 * store's write fail after LevelDB's succeeded, the log fails closed and the pass at the next open
 * (reservation-recovery.ts) puts the key back to the store's value.
 */
export class IdReserver {
  constructor(readonly settings: ReservationSettings) {}

  /**
   * The reservations the batch needs for the heads it writes (undefined when none, the usual case: one comparison
   * per subject in the batch); their reservation keys are put into `batch`.
   */
  due(heads: Iterable<SubjectState>, batch: { put(key: Buffer, value: Buffer): unknown }): DueReservations | undefined {
    let due: DueReservations | undefined;
    for (const state of heads) {
      const head = state.nextOffset - 1;
      if (head <= state.reservedHigh) continue;
      const upTo = head + this.settings.chunk;
      due ??= { entries: [], states: [] };
      due.entries.push({ subject: state.subject, upTo });
      due.states.push(state);
      batch.put(reservationKey(state.subject), encodeHead(upTo));
    }
    return due;
  }

  /**
   * Writes the reservations to the shared store before anything else of the group commit is written (the batch,
   * the marks, acks replicated the cold tier's rows), dropping `batch` when they are refused: a stale owner's raise
   * is refused (FencedError) once a newer owner fenced the partition, and then nothing of its batch may land,
   * neither rows in the cold tier above the reservation the new owner started from (they could overwrite the new
   * owner's) nor records on this disk (a later re-acquire of the partition here would trust them). So a batch that
   * raises waits for the raise, then its writes; one per `chunk` ids per subject.
   */
  async writeFirst(due: DueReservations, batch: { close(): Promise<void> }): Promise<void> {
    const { store, partition, epoch } = this.settings;
    try {
      await store.reserve(partition, due.entries, epoch);
    } catch (err) {
      await batch.close().catch(() => undefined);
      throw err;
    }
  }

  /** The store and the batch have both written them: the states may hand out ids up to them. */
  written(due: DueReservations): void {
    due.states.forEach((state, i) => {
      const upTo = due.entries[i]?.upTo ?? 0;
      if (upTo > state.reservedHigh) state.reservedHigh = upTo;
    });
  }
}

/** The reservation settings of a log's options; undefined when it has no store (ids from the local disk only). */
export function reservationSettings(options: {
  readonly idReservations?: IdReservations;
  readonly partition?: number;
  readonly idReservationChunk?: number;
  readonly epoch?: number;
}): ReservationSettings | undefined {
  const store = options.idReservations;
  if (store === undefined) return undefined;
  const chunk = options.idReservationChunk ?? DEFAULT_ID_RESERVATION_CHUNK;
  if (!Number.isSafeInteger(chunk) || chunk < 1)
    throw new InvariantError(`idReservationChunk must be an integer >= 1, got ${chunk}`);
  return { store, partition: options.partition ?? 0, chunk, epoch: options.epoch ?? 0 };
}

/** The group commit's reserver for a log's options; undefined without a store. */
export function createReserver(options: Parameters<typeof reservationSettings>[0]): IdReserver | undefined {
  const settings = reservationSettings(options);
  return settings === undefined ? undefined : new IdReserver(settings);
}
