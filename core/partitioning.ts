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
/** One byte into the hash. */
function mix(hash: number, byte: number): number {
  return Math.imul(hash ^ byte, FNV_PRIME);
}

/**
 * 32-bit FNV-1a of the UTF-8 bytes, as an unsigned integer. The bytes are worked out from the UTF-16 code units as
 * TextEncoder would write them (a lone surrogate as U+FFFD) instead of encoding into a buffer: every append routes by
 * it, and the encoding was 2.5% of the broker's main thread under PublishBatch of 100 (`node --cpu-prof`).
 */
export function fnv1a32(text: string): number {
  let hash = FNV_OFFSET_BASIS;
  for (let i = 0; i < text.length; i++) {
    let code = text.charCodeAt(i);
    if (code < 0x80) {
      hash = mix(hash, code);
      continue;
    }
    if (code < 0x800) {
      hash = mix(mix(hash, 0xc0 | (code >> 6)), 0x80 | (code & 0x3f));
      continue;
    }
    const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
    if (code >= 0xd800 && code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      const point = 0x10000 + ((code - 0xd800) << 10) + (next - 0xdc00);
      hash = mix(mix(hash, 0xf0 | (point >> 18)), 0x80 | ((point >> 12) & 0x3f));
      hash = mix(mix(hash, 0x80 | ((point >> 6) & 0x3f)), 0x80 | (point & 0x3f));
      i++;
      continue;
    }
    if (code >= 0xd800 && code <= 0xdfff) code = 0xfffd;
    hash = mix(mix(mix(hash, 0xe0 | (code >> 12)), 0x80 | ((code >> 6) & 0x3f)), 0x80 | (code & 0x3f));
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
