import { FencedError, type IdReservation, type IdReservations, type SettledHead } from '../../core/index.js';

/**
 * Id reservations in memory, for tests and a single broker without a cluster store: the same contract as the
 * ScyllaDB ones (cluster/test-support/id-reservations-contract.ts runs against both), fences included. It outlives
 * the logs that use it, which is what a test of a wiped disk needs: the reservations survive, the data dir does not.
 */
export class MemoryIdReservations implements IdReservations {
  private readonly partitions = new Map<number, Map<string, number>>();
  /** Per partition, the highest epoch it was fenced at (absent = 0: never fenced). */
  private readonly fences = new Map<number, number>();

  reserved(partition: number): Promise<Map<string, number>> {
    return Promise.resolve(new Map(this.partitions.get(partition)));
  }

  fence(partition: number, epoch: number): Promise<void> {
    const fence = this.fences.get(partition) ?? 0;
    if (epoch < fence) return Promise.reject(new FencedError(partition, epoch, fence));
    this.fences.set(partition, epoch);
    return Promise.resolve();
  }

  reserve(partition: number, entries: readonly IdReservation[], epoch: number): Promise<void> {
    const refused = this.refusal(partition, epoch);
    if (refused !== undefined) return Promise.reject(refused);
    const subjects = this.subjects(partition);
    for (const { subject, upTo } of entries) subjects.set(subject, Math.max(subjects.get(subject) ?? 0, upTo));
    return Promise.resolve();
  }

  settle(partition: number, heads: readonly SettledHead[], epoch: number): Promise<void> {
    const refused = this.refusal(partition, epoch);
    if (refused !== undefined) return Promise.reject(refused);
    const subjects = this.subjects(partition);
    for (const { subject, lastId } of heads) subjects.set(subject, lastId);
    return Promise.resolve();
  }

  /** Why a write under `epoch` is refused, if it is: the partition is fenced above it. */
  private refusal(partition: number, epoch: number): FencedError | undefined {
    const fence = this.fences.get(partition) ?? 0;
    return epoch < fence ? new FencedError(partition, epoch, fence) : undefined;
  }

  private subjects(partition: number): Map<string, number> {
    let subjects = this.partitions.get(partition);
    if (subjects === undefined) {
      subjects = new Map();
      this.partitions.set(partition, subjects);
    }
    return subjects;
  }
}
