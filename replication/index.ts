// The public entry point of replication/: background jobs (compaction, replication), the cold store, tiered reads.
export { openCassandraColdStore, CassandraColdStore, type CassandraColdStoreOptions } from './cold-store/cassandra-cold-store.js';
export { Compactor, type CompactionPolicy, type CompactionResult } from './jobs/compaction.js';
export { Replicator, type SegmentRef } from './jobs/replicator.js';
export { InProcessRunner, type InProcessRunnerOptions } from './jobs/in-process-runner.js';
export { BullMqRunner, queueNames, replicationJobId, type BullMqRunnerOptions } from './jobs/bullmq-runner.js';
export type { JobRunner } from './jobs/job-runner.js';
export { JobMetrics } from './jobs/job-metrics.js';
export { createTieredLog } from './tiered/tiered-log.js';
export { startBackgroundJobs, type BackgroundJobs, type BackgroundJobsOptions } from './background-jobs.js';
