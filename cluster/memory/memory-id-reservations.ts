import type { IdReservation, IdReservations, SettledHead } from '../../core/index.js';

/**
 * Id reservations in memory, for tests and a single broker without a cluster store: the same contract as the
 * ScyllaDB ones (cluster/test-support/id-reservations-contract.ts runs against both). It outlives the logs that use
 * it, which is what a test of a wiped disk needs: the reservations survive, the data dir does not.
 */
export class MemoryIdReservations implements IdReservations {
  private readonly partitions = new Map<number, Map<string, number>>();

  reserved(partition: number): Promise<Map<string, number>> {
    return Promise.resolve(new Map(this.partitions.get(partition)));
  }

  reserve(partition: number, entries: readonly IdReservation[]): Promise<void> {
    let subjects = this.partitions.get(partition);
    if (subjects === undefined) {
      subjects = new Map();
      this.partitions.set(partition, subjects);
    }
    for (const { subject, upTo } of entries) subjects.set(subject, Math.max(subjects.get(subject) ?? 0, upTo));
    return Promise.resolve();
  }

  settle(partition: number, heads: readonly SettledHead[]): Promise<void> {
    let subjects = this.partitions.get(partition);
    if (subjects === undefined) {
      subjects = new Map();
      this.partitions.set(partition, subjects);
    }
    for (const { subject, lastId } of heads) subjects.set(subject, lastId);
    return Promise.resolve();
  }
}
