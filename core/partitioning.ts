/**
 * Subjects to partitions, partitions to workers. The hash is part of the storage format: a data dir records its
 * partition count, and every broker version must place a subject in the same partition, so it is written here
 * (32-bit FNV-1a over the subject's UTF-8 bytes) rather than taken from a library whose output could change.
 */

/** The partition count of a new data dir when BROKER_PARTITIONS is unset. */
export const DEFAULT_PARTITIONS = 16;

/** The most partitions a data dir may have (each is a LevelDB database with its own files and threads' work). */
export const MAX_PARTITIONS = 1024;

const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const encoder = new TextEncoder();

/** 32-bit FNV-1a of the UTF-8 bytes, as an unsigned integer. */
export function fnv1a32(text: string): number {
  let hash = FNV_OFFSET_BASIS;
  for (const byte of encoder.encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, FNV_PRIME);
  }
  return hash >>> 0;
}

/** The partition of a subject: fnv1a32(subject) mod partitions. */
export function partitionOf(subject: string, partitions: number): number {
  return fnv1a32(subject) % partitions;
}

/** The worker (0-based) that owns a partition when `workers` workers split the partitions: partition mod workers. */
export function workerOf(partition: number, workers: number): number {
  return partition % workers;
}

/** The partitions worker `index` of `workers` owns. */
export function partitionsOfWorker(index: number, workers: number, partitions: number): number[] {
  const owned: number[] = [];
  for (let p = 0; p < partitions; p++) if (workerOf(p, workers) === index) owned.push(p);
  return owned;
}
