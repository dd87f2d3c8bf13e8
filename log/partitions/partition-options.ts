import { InvariantError, NotOwnerError } from '../../core/index.js';
import type { LogOptions, PartitionedLogOptions } from '../options.js';
import { createSharedBudgets, type SharedBudgets } from '../shared-budgets.js';
import { LEVELDB_MAX_OPEN_FILES, LEVELDB_MIN_OPEN_FILES } from '../storage.js';
import { partitionDir, type PartitionLayout } from './layout.js';

/**
 * A process's part of a budget that is a total for the whole broker: all of it when the process owns every
 * partition, else its owned partitions' share (ceil, at least 1). 0 (no limit) stays 0.
 */
export function ownedShare(total: number, owned: number, partitions: number): number {
  if (total <= 0 || owned >= partitions) return total;
  return Math.max(1, Math.ceil((total * owned) / partitions));
}

/** A total split evenly over the partitions: ceil, at least 1. */
export function evenSplit(total: number, partitions: number): number {
  return Math.max(1, Math.ceil(total / partitions));
}

/** LevelDB keeps at least this much write buffer (it clips smaller ones); the block cache gets the same floor. */
const LEVELDB_MIN_MEMORY = 64 * 1024;

/**
 * Each partition's LevelDB block cache and write buffer: the totals split evenly over the data dir's partitions
 * (ceil, at least 64 KiB), whichever of them this process opens, so all partitions of all workers together stay
 * within the totals (at least 64 KiB each, which passes them only with more than 512 partitions at the defaults).
 */
function levelDbMemory(options: LogOptions, partitions: number): Partial<LogOptions> {
  const split = (total: number): number => Math.max(LEVELDB_MIN_MEMORY, Math.ceil(total / partitions));
  const { levelDbCacheBytes: cache, levelDbWriteBufferBytes: buffer } = options;
  return {
    ...(cache === undefined ? {} : { levelDbCacheBytes: split(cache) }),
    ...(buffer === undefined ? {} : { levelDbWriteBufferBytes: split(buffer) }),
  };
}

/** The stream to the cold tier's queue bound is a total: split evenly over the data dir's partitions. */
function streamShare(options: LogOptions, partitions: number): Partial<LogOptions> {
  const stream = options.replicaStream;
  if (stream === undefined) return {};
  return { replicaStream: { ...stream, maxQueuedBytes: evenSplit(stream.maxQueuedBytes, partitions) } };
}

/**
 * Files each partition's LevelDB may hold open: LEVELDB_MAX_OPEN_FILES split over the partitions, but never below
 * what LevelDB keeps whatever it is asked (LEVELDB_MIN_OPEN_FILES).
 */
export function openFilesPerPartition(partitions: number): number {
  return partitions === 1
    ? LEVELDB_MAX_OPEN_FILES
    : Math.max(LEVELDB_MIN_OPEN_FILES, Math.ceil(LEVELDB_MAX_OPEN_FILES / partitions));
}

/** The owned partitions, checked, without duplicates, in order (every partition when none are named). */
export function ownedPartitions(owned: readonly number[] | undefined, partitions: number): number[] {
  if (owned === undefined) return Array.from({ length: partitions }, (_, p) => p);
  for (const p of owned) {
    if (!Number.isInteger(p) || p < 0 || p >= partitions)
      throw new InvariantError(`owned partition ${p} is not one of the data dir's ${partitions} partitions`);
  }
  return [...new Set(owned)].sort((a, b) => a - b);
}

/**
 * What each partition's LevelDbLog is opened with. The budgets that are totals for the broker stay totals: the
 * tail caches' bytes, the subject limit, the stored-bytes limit and the free-space floor are counted once for all
 * of this process's partitions (shared budgets, this process's share of each: ownedShare), and the subject cache,
 * whose eviction is per database, is split evenly over the partitions (ceil, at least 1).
 */
export class PartitionSettings {
  readonly shared: SharedBudgets;
  private readonly base: LogOptions;
  /** LogOptions.writeGate of a partition, from PartitionedLogOptions.leaseGate. */
  private readonly gates: (partition: number) => Pick<LogOptions, 'writeGate'>;

  constructor(
    options: PartitionedLogOptions,
    private readonly layout: PartitionLayout,
    owned: number,
  ) {
    const { partitions } = layout;
    const share = (total: number): number => ownedShare(total, owned, partitions);
    const { partitions: _requested, owned: _owned, ownerName, appendGate: _gate, leaseGate, ...rest } = options;
    const limits =
      options.limits === undefined
        ? {}
        : { limits: { ...options.limits, maxTotalBytes: share(options.limits.maxTotalBytes) } };
    this.base = {
      ...rest,
      ...limits,
      tailCacheBytes: share(options.tailCacheBytes),
      subjectCacheSize: evenSplit(options.subjectCacheSize, partitions),
      ...levelDbMemory(options, partitions),
      ...(options.maxSubjects === undefined ? {} : { maxSubjects: share(options.maxSubjects) }),
      maxOpenFiles: options.maxOpenFiles ?? openFilesPerPartition(partitions),
      ...streamShare(options, partitions),
    };
    this.shared = createSharedBudgets(this.base, layout.dataDir);
    // The lease is asked again as each batch of appends is written, not only as an append is admitted.
    const owner = ownerName ?? (() => 'another worker');
    this.gates = (p) =>
      leaseGate === undefined
        ? {}
        : { writeGate: (subject) => (leaseGate(p) ? undefined : new NotOwnerError(subject, p, owner(p))) };
  }

  /** The options of partition `partition`'s LevelDbLog. */
  forPartition(partition: number): LogOptions {
    const { layout, shared, gates } = this;
    return { ...this.base, dataDir: partitionDir(layout, partition), partition, shared, ...gates(partition) };
  }

  /** Files one partition's LevelDB may hold open. */
  get maxOpenFiles(): number {
    return this.base.maxOpenFiles ?? LEVELDB_MAX_OPEN_FILES;
  }
}
