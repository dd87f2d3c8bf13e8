import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { NotOwnerError, redisSecurity, type BrokerConfig, type ColdStore, type Log } from '../../core/index.js';
import { JobMetrics, JobRunner, MemoryQueues, type JobQueues, type RetryPolicy } from '../../jobs/index.js';
import { Compactor, SteadyClock, type CompactionResult } from '../../retention/index.js';
import { Replicator } from '../../tiering/index.js';
import { COMPACTION, REPLICATION, compactionJob, replicationJob } from './job-definitions.js';

// bullmq and ioredis load only when REDIS_URL asks for them (cassandra-driver, in the composition root, only with
// SCYLLA_CONTACT_POINTS): together they add ~30 MB of resident code to a broker on embedded defaults.

export interface BackgroundJobsOptions {
  readonly config: BrokerConfig;
  /** The broker's local log (the jobs' source of truth). */
  readonly log: Log;
  /** The cold tier, opened and closed by the caller (the composition root); absent: no replication. */
  readonly coldStore?: ColdStore;
  /** Where job metrics go; absent: nowhere. */
  readonly registry?: Registry;
  readonly logger: Logger;
  /**
   * The wall clock compaction judges expiry by (tests inject one); a forward step of it is not followed (SteadyClock).
   * @defaultValue Date.now
   */
  readonly now?: () => number;
  /** How failed replications are retried. @defaultValue 8 attempts, 1 s doubling, at most 60 s */
  readonly retry?: RetryPolicy;
}

export interface BackgroundJobs {
  /** Runs a compaction pass now through the runner's queue and resolves with what it did. */
  runCompactionNow(): Promise<CompactionResult>;
  /** Replicates every owed segment here and now (not through the queue); resolves with how many it copied. */
  replicateOwedNow(): Promise<number>;
  /** Stops the runner (waiting for the jobs in hand). Not the cold store, not the log: the caller owns them. */
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
  const cold = opts.coldStore;
  const { retentionMs, localRetentionMs, localRetentionBytes } = config;
  const compactor = new Compactor(log, { retentionMs, localRetentionMs, localRetentionBytes }, metrics);
  const replicator = cold === undefined ? undefined : new Replicator(log, cold, config.retentionMs, metrics);
  const runner = JobRunner.start({
    queues: await openQueues(config, logger),
    periodic: [compactionJob(compactor, logger, steadyNow(logger, opts.now))],
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
          // Sealed replicated (acks=replicated wrote every record to the cold tier already): nothing owed.
          if (s.replicated) return;
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
      for await (const ref of replicator?.owed() ?? []) {
        // A partition released meanwhile (a concurrent hand-over, which replicated it before releasing): not ours.
        const done = await replicator?.replicate(ref).catch((err: unknown) => {
          if (err instanceof NotOwnerError) return 'skipped' as const;
          throw err;
        });
        if (done !== 'skipped') copied++;
      }
      return copied;
    },
    async close() {
      unsubscribe();
      await runner.close();
    },
  };
}

async function openQueues(config: BrokerConfig, logger: Logger): Promise<JobQueues> {
  if (config.redisUrl === undefined) return new MemoryQueues();
  const { BullMqQueues } = await import('../../jobs/bullmq/index.js');
  return new BullMqQueues({
    redisUrl: config.redisUrl,
    security: redisSecurity(config),
    prefix: config.queuePrefix,
    brokerId: config.brokerId,
    logger,
  });
}

/** Compaction's clock: a wall clock stepped forward must not make it delete records that have not expired. */
function steadyNow(logger: Logger, wall: (() => number) | undefined): () => number {
  const clock = new SteadyClock({
    ...(wall === undefined ? {} : { wall }),
    onStep: (step) =>
      logger.warn(
        {
          aheadMs: step.aheadMs,
          wall: new Date(step.wallMs).toISOString(),
          steady: new Date(step.steadyMs).toISOString(),
        },
        'the wall clock stepped forward: compaction judges expiry by the monotonic clock until the broker restarts',
      ),
  });
  return () => clock.now();
}
