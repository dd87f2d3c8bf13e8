// The public entry point of log/.
import type { PartitionedLogOptions } from './options.js';
import { PartitionedLog } from './partitions/partitioned-log.js';

export { logOptionsFromConfig, type LogOptions, type PartitionedLogOptions } from './options.js';
export { LEVELDB_MAX_OPEN_FILES } from './storage.js';
export { verifyDataDir, type VerifyReport } from './partitions/verify-partitions.js';
export {
  PARTITIONS_MARKER,
  ensurePartitionLayout,
  partitionDir,
  partitionDirOf,
  readPartitionLayout,
  type PartitionLayout,
} from './partitions/layout.js';
export type { PartitionedLog } from './partitions/partitioned-log.js';
export type { ReplicaSettings } from './replica-commit.js';
export { ReplicationLagBoard, type ReplicaStreamSettings, type ReplicationLag } from './replica-stream.js';

/**
 * Opens (creating if needed) the segmented log in options.dataDir, split into partitions (log/partitions/): those
 * in options.owned (default all), each its own LevelDB database. A new data dir gets options.partitions (default
 * DEFAULT_PARTITIONS), recorded in it; a different options.partitions later is refused with ConfigError.
 */
export async function openLog(options: PartitionedLogOptions): Promise<PartitionedLog> {
  return PartitionedLog.open(options);
}
