// The public entry point of replication/: background jobs (compaction, replication), the cold store, tiered reads.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { BrokerConfig, ColdStore, Log } from '../core/index.js';
import { openCassandraColdStore } from './cold-store/cassandra-cold-store.js';
import { BullMqRunner } from './jobs/bullmq-runner.js';
import { Compactor } from './jobs/compaction.js';
import { InProcessRunner, type JobRunner } from './jobs/in-process-runner.js';
import { JobMetrics } from './jobs/job-metrics.js';
import { Replicator } from './jobs/replicator.js';
import { createTieredLog } from './tiered/tiered-log.js';

export { openCassandraColdStore, CassandraColdStore, type CassandraColdStoreOptions } from './cold-store/cassandra-cold-store.js';
export { Compactor, type CompactionPolicy, type CompactionResult } from './jobs/compaction.js';
export { Replicator } from './jobs/replicator.js';
export { InProcessRunner, type JobRunner } from './jobs/in-process-runner.js';
export { BullMqRunner } from './jobs/bullmq-runner.js';
export { JobMetrics } from './jobs/job-metrics.js';
export { createTieredLog } from './tiered/tiered-log.js';

export interface BackgroundJobs {
  /** The log to serve reads from: tiered (local + cold) when replication is on, else the local log. */
  readonly log: Log;
  readonly runner: JobRunner;
  close(): Promise<void>;
}

/**
 * Starts the job processors for a broker's log: on BullMQ when REDIS_URL is set, else in process on timers;
 * with replication (and tiered reads) when SCYLLA_CONTACT_POINTS is set.
 */
export async function startBackgroundJobs(opts: {
  config: BrokerConfig;
  log: Log;
  registry?: Registry;
  logger: Logger;
  coldStore?: ColdStore;
  now?: () => number;
}): Promise<BackgroundJobs> {
  const { config, log, logger } = opts;
  const metrics = new JobMetrics(opts.registry);
  let cold = opts.coldStore;
  if (cold === undefined && config.scyllaContactPoints.length > 0) {
    cold = await openCassandraColdStore({
      contactPoints: config.scyllaContactPoints,
      localDataCenter: config.scyllaLocalDc,
      keyspace: config.scyllaKeyspace,
      replicationFactor: config.scyllaReplicationFactor,
      consistency: config.scyllaConsistency,
      concurrency: config.replicationConcurrency,
      ...(opts.registry === undefined ? {} : { registry: opts.registry }),
      logger,
    });
  }
  const compactor = new Compactor(log, {
    retentionMs: config.retentionMs,
    localRetentionMs: config.localRetentionMs,
    localRetentionBytes: config.localRetentionBytes,
  }, metrics);
  const replicator = cold === undefined ? undefined : new Replicator(log, cold, config.retentionMs, metrics);
  const common = { log, compactor, intervalMs: config.compactionIntervalMs, metrics, logger, ...(replicator === undefined ? {} : { replicator }), ...(opts.now === undefined ? {} : { now: opts.now }) };
  const runner: JobRunner =
    config.redisUrl === undefined
      ? new InProcessRunner(common)
      : await BullMqRunner.start({ ...common, redisUrl: config.redisUrl, prefix: config.queuePrefix, brokerId: config.brokerId });
  logger.info({ runner: config.redisUrl === undefined ? 'in-process' : 'bullmq', replication: cold !== undefined }, 'background jobs started');
  const ownsCold = opts.coldStore === undefined;
  return {
    log: cold === undefined ? log : createTieredLog(log, cold),
    runner,
    async close() {
      await runner.close();
      if (ownsCold) await cold?.close();
    },
  };
}
