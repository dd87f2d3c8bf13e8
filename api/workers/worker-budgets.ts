import type { BrokerConfig } from '../../core/index.js';
import type { WorkerTopology } from './worker-topology.js';

/** The settings that are counts or sizes. */
type CountKey = { [K in keyof BrokerConfig]-?: BrokerConfig[K] extends number ? K : never }[keyof BrokerConfig];

/**
 * The settings a worker of several splits by the worker count (ceil, never below the setting's own minimum): each
 * is documented as a total for the broker, and each worker is a process of its own that would otherwise enforce the
 * whole of it, so a pod of N workers would hold N times what the operator set. node:cluster spreads connections
 * round-robin, so the edge budgets fill about evenly; a worker may refuse while a sibling still has room (the total
 * is never passed, which is the promise).
 */
const EDGE_TOTALS = [
  // Descriptors are a per-process limit too (fd-budget.ts clamps each worker's share to its own ulimit).
  ['maxConnections', 1],
  ['maxSubscribers', 1],
  ['subscriberBufferBytes', 64 * 1024],
  ['maxInflightPublishBytes', 64 * 1024],
  // Replication copies read sealed segments into memory and hold CQL writes in flight: per broker, not per worker.
  ['replicationJobs', 1],
] as const satisfies ReadonlyArray<readonly [CountKey, number]>;

/**
 * The log's totals. Without a cluster the partitioned log splits them itself, by the share of the partitions a
 * worker owns (log/partitions/partition-options.ts). A cluster member's partitions come and go, so its log takes
 * the totals it is given as its whole: a worker of such a member gets 1/N of them here. (0 = no limit stays 0.)
 */
const LOG_TOTALS = [
  ['maxSubjects', 1],
  ['maxTotalBytes', 0],
  ['tailCacheBytes', 0],
] as const satisfies ReadonlyArray<readonly [CountKey, number]>;

/**
 * Not split, on purpose: BROKER_MIN_FREE_BYTES is a floor of the file system's free space, which every worker reads
 * from the same disk (statfs), so it already holds for the whole pod; BROKER_SUBJECT_CACHE and the LevelDB budgets
 * are split over the data dir's partitions, each opened by one worker only; BROKER_MAX_STREAMS_PER_CONNECTION,
 * BROKER_MAX_BODY_BYTES and BROKER_MAX_RESPONSE_BYTES bound one connection or one message, not a sum.
 */
export function workerShareOf(config: BrokerConfig, worker: Pick<WorkerTopology, 'count'> | undefined): BrokerConfig {
  if (worker === undefined || worker.count <= 1) return config;
  const shares: Partial<Record<CountKey, number>> = {};
  const split = (key: CountKey, floor: number): void => {
    const total = config[key];
    if (total > 0) shares[key] = Math.max(floor, Math.ceil(total / worker.count));
  };
  for (const [key, floor] of EDGE_TOTALS) split(key, floor);
  if (config.cluster !== undefined) for (const [key, floor] of LOG_TOTALS) split(key, floor);
  return { ...config, ...shares };
}
