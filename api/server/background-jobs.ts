import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { BrokerConfig, ColdStore, Log, LogReader } from '../../core/index.js';
import { Compactor, type CompactionResult } from '../../retention/compaction.js';
import { InProcessRunner } from '../../jobs/in-process-runner.js';
import type { JobRunner } from '../../jobs/job-runner.js';
import { JobMetrics } from '../../jobs/job-metrics.js';
import { Replicator } from '../../tiering/replicator.js';
import { createTieredReader } from '../../tiering/tiered-reader.js';

// bullmq, ioredis and cassandra-driver are loaded only when REDIS_URL or SCYLLA_CONTACT_POINTS ask for them: together
// they add ~30 MB of resident code to a broker on embedded defaults, which needs neither.

export interface BackgroundJobsOptions {
  readonly config: BrokerConfig;
  /** The broker's local log (the jobs' source of truth). */
  readonly log: Log;
  /** The cold tier; absent: opened from SCYLLA_CONTACT_POINTS if set (and closed by close()), else no replication. */
  readonly coldStore?: ColdStore;
  /** Where job metrics go; absent: nowhere. */
  readonly registry?: Registry;
  readonly logger: Logger;
  /** The clock compaction judges expiry by (tests inject one). @defaultValue Date.now */
  readonly now?: () => number;
}

export interface BackgroundJobs {
  /** The reader to serve from: tiered (local, then cold) when replication is on, else the local log itself. */
  readonly reader: LogReader;
  /** The runner in use: BullMQ when REDIS_URL is set, else in process. */
  readonly runner: JobRunner;
  /** Runs a compaction pass now through the runner and resolves with what it did. */
  runCompactionNow(): Promise<CompactionResult>;
  /** Replicates every owed segment now; resolves with how many segments it copied. */
  replicateOwedNow(): Promise<number>;
  /** Stops the runner (waiting for the job in hand) and closes the cold store if it opened it. Not the log. */
  close(): Promise<void>;
}

/**
 * Starts the job processors for a broker's log: on BullMQ when REDIS_URL is set, else in process on timers; with
 * replication (and tiered reads) when there is a cold store. Both runners run the same processors.
 */
export async function startBackgroundJobs(opts: BackgroundJobsOptions): Promise<BackgroundJobs> {
  const { config, log, logger } = opts;
  const metrics = new JobMetrics(opts.registry);
  let cold = opts.coldStore;
  const ownsCold = cold === undefined && config.scyllaContactPoints.length > 0;
  if (ownsCold) {
    const { openCassandraColdStore } = await import('../../tiering/cassandra/cassandra-cold-store.js');
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
  const compactor = new Compactor(
    log,
    {
      retentionMs: config.retentionMs,
      localRetentionMs: config.localRetentionMs,
      localRetentionBytes: config.localRetentionBytes,
    },
    metrics,
  );
  const replicator = cold === undefined ? undefined : new Replicator(log, cold, config.retentionMs, metrics);
  const common = {
    log,
    compactor,
    intervalMs: config.compactionIntervalMs,
    metrics,
    logger,
    ...(replicator === undefined ? {} : { replicator }),
    ...(opts.now === undefined ? {} : { now: opts.now }),
  };
  const runner: JobRunner =
    config.redisUrl === undefined
      ? new InProcessRunner(common)
      : await (
          await import('../../jobs/bullmq-runner.js')
        ).BullMqRunner.start({
          ...common,
          redisUrl: config.redisUrl,
          prefix: config.queuePrefix,
          brokerId: config.brokerId,
        });
  logger.info(
    {
      runner: config.redisUrl === undefined ? 'in-process' : 'bullmq',
      brokerId: config.brokerId,
      replication: cold !== undefined,
    },
    'background jobs started',
  );
  return {
    reader: cold === undefined ? log : createTieredReader(log, cold),
    runner,
    runCompactionNow: () => runner.runCompactionNow(),
    replicateOwedNow: () => runner.replicateOwedNow(),
    async close() {
      await runner.close();
      if (ownsCold) await cold?.close();
    },
  };
}
