import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { BrokerConfig, ColdStore, Log } from '../../core/index.js';
import { JobMetrics, JobRunner, MemoryQueues, type JobQueues, type RetryPolicy } from '../../jobs/index.js';
import { Compactor, type CompactionResult } from '../../retention/index.js';
import { Replicator } from '../../tiering/index.js';
import { COMPACTION, REPLICATION, compactionJob, replicationJob } from './job-definitions.js';

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
  /** How failed replications are retried. @defaultValue 8 attempts, 1 s doubling, at most 60 s */
  readonly retry?: RetryPolicy;
}

export interface BackgroundJobs {
  /** Runs a compaction pass now through the runner's queue and resolves with what it did. */
  runCompactionNow(): Promise<CompactionResult>;
  /** Replicates every owed segment here and now (not through the queue); resolves with how many it copied. */
  replicateOwedNow(): Promise<number>;
  /** Stops the runner (waiting for the jobs in hand) and closes the cold store if it opened it. Not the log. */
  close(): Promise<void>;
}

/**
 * Starts the job processors on a broker's log: compaction every BROKER_COMPACTION_INTERVAL and, with a cold store,
 * one replication job per sealed segment (BROKER_REPLICATION_JOBS in flight), on one JobRunner whose queues are in
 * Redis (BullMQ) when REDIS_URL is set, else in memory.
 */
export async function startBackgroundJobs(opts: BackgroundJobsOptions): Promise<BackgroundJobs> {
  const { config, log, logger } = opts;
  const metrics = new JobMetrics(opts.registry);
  const ownsCold = opts.coldStore === undefined && config.scyllaContactPoints.length > 0;
  const cold = ownsCold ? await openColdStore(config, opts.registry, logger) : opts.coldStore;
  const { retentionMs, localRetentionMs, localRetentionBytes } = config;
  const compactor = new Compactor(log, { retentionMs, localRetentionMs, localRetentionBytes }, metrics);
  const replicator = cold === undefined ? undefined : new Replicator(log, cold, config.retentionMs, metrics);
  const runner = JobRunner.start({
    queues: await openQueues(config, logger),
    periodic: [compactionJob(compactor, logger, opts.now ?? Date.now)],
    keyed: replicator === undefined ? [] : [replicationJob(replicator, metrics, config.replicationJobs)],
    intervalMs: config.compactionIntervalMs,
    metrics,
    logger,
    ...opts.retry,
  });
  const unsubscribe =
    replicator === undefined
      ? () => undefined
      : log.onSegmentSealed((s) => {
          metrics.addLag(1);
          void runner.enqueue(REPLICATION, { subject: s.subject, baseOffset: s.baseOffset });
        });
  logger.info(
    { queues: config.redisUrl === undefined ? 'memory' : 'bullmq', brokerId: config.brokerId, replication: !!cold },
    'background jobs started',
  );
  return {
    // The result crosses Redis as JSON when the queues are BullMQ's; it is the plain object compactor.run returned.
    runCompactionNow: async () => (await runner.runNow(COMPACTION)) as CompactionResult,
    async replicateOwedNow() {
      let copied = 0;
      for await (const ref of replicator?.owed() ?? []) if ((await replicator?.replicate(ref)) !== 'skipped') copied++;
      return copied;
    },
    async close() {
      unsubscribe();
      await runner.close();
      if (ownsCold) await cold?.close();
    },
  };
}

async function openQueues(config: BrokerConfig, logger: Logger): Promise<JobQueues> {
  if (config.redisUrl === undefined) return new MemoryQueues();
  const { BullMqQueues } = await import('../../jobs/bullmq/index.js');
  return new BullMqQueues({ redisUrl: config.redisUrl, prefix: config.queuePrefix, brokerId: config.brokerId, logger });
}

async function openColdStore(config: BrokerConfig, registry: Registry | undefined, logger: Logger): Promise<ColdStore> {
  const { openCassandraColdStore } = await import('../../tiering/cassandra/index.js');
  return openCassandraColdStore({
    contactPoints: config.scyllaContactPoints,
    localDataCenter: config.scyllaLocalDc,
    keyspace: config.scyllaKeyspace,
    replicationFactor: config.scyllaReplicationFactor,
    consistency: config.scyllaConsistency,
    concurrency: config.replicationConcurrency,
    ...(registry === undefined ? {} : { registry }),
    logger,
  });
}
