import type { Logger } from 'pino';
import cluster from 'node:cluster';
import type { BrokerConfig } from '../../core/index.js';
import { ensurePartitionLayout, logOptionsFromConfig, openLog } from '../../log/index.js';
import { Supervisor } from '../workers/supervisor.js';
import { announceReady, onWorkersStatus, topologyFromEnv, workerCount } from '../workers/worker-process.js';
import { startBackgroundJobs } from './background-jobs.js';
import { FORCE_SHUTDOWN_AFTER_MS } from './broker-server.js';
import { openColdStore, startBroker, type BrokerDeps } from './compose.js';
import { createLogger } from './logger.js';
import { reloadOnSighup } from '../auth/open-access.js';
import { startProcessTracing } from '../tracing/process-tracing.js';

/**
 * What a shutdown gets past BROKER_SHUTDOWN_TIMEOUT before the process gives up, in ms: the gRPC server's last
 * second to end its calls, then the jobs, the cold store and the log closing. With the 8 s default this is the
 * contract's 10 s.
 */
export const CLOSE_MARGIN_MS = FORCE_SHUTDOWN_AFTER_MS + 1_000;

/** When a shutdown that has not finished is abandoned (exit 1), counted from the signal, in ms. */
export function exitDeadlineMs(shutdownTimeoutMs: number): number {
  return shutdownTimeoutMs + CLOSE_MARGIN_MS;
}

/** Runs a broker in this process until SIGTERM or SIGINT, then shuts it down gracefully and exits 0. */
export async function runServer(config: BrokerConfig, deps: Omit<BrokerDeps, 'logger' | 'worker'> = {}): Promise<void> {
  const workers = workerCount(config);
  if (workers > 1 && cluster.isPrimary) return runPrimary(config, workers);
  const worker = topologyFromEnv(config);
  // Before the logger and the broker: log lines and every server, channel and log built read it (process-tracing.ts).
  const tracing = startProcessTracing(config, worker?.index);
  const root = createLogger(config.logLevel);
  const logger = worker === undefined ? root : root.child({ worker: worker.index });
  // A stray rejection is a bug to log, not a reason to drop every connection and subscription.
  process.on('unhandledRejection', (err: unknown) => logger.error({ err }, 'unhandled rejection'));
  const broker = await startBroker(config, { ...deps, logger, ...(worker === undefined ? {} : { worker }) }).catch(
    (err: unknown) => {
      logger.error({ err }, 'startup failed');
      throw err;
    },
  );
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    const deadlineMs = exitDeadlineMs(config.shutdownTimeoutMs);
    logger.info({ signal, deadlineMs }, 'signal received');
    // Past the deadline, exit anyway: everything acknowledged is already in the log.
    const deadline = setTimeout(() => {
      logger.error({ deadlineMs }, 'shutdown took longer than its deadline; exiting');
      process.exit(1);
    }, deadlineMs);
    deadline.unref();
    // The spans still buffered are sent before the exit (the last ones are those of the shutdown's calls).
    broker.close().then(
      () => tracing?.shutdown().finally(() => process.exit(0)) ?? process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  reloadOnSighup(() => broker.reloadAuth());
  if (worker !== undefined) {
    // The primary is gone (killed): nobody restarts or supervises this worker any more, so it stops too.
    process.on('disconnect', () => stop('disconnect'));
    onWorkersStatus((allUp) => broker.setServing(allUp, 'workers'));
    announceReady(broker.grpcPort);
  }
}

/**
 * The primary of a broker with several workers: it settles the data dir's partitions once (before any worker
 * opens one), then forks and supervises the workers (supervisor.ts) until SIGTERM or SIGINT.
 */
async function runPrimary(config: BrokerConfig, workers: number): Promise<void> {
  const logger = createLogger(config.logLevel).child({ role: 'primary' });
  const { partitions } = await ensurePartitionLayout(config.dataDir, config.partitions);
  const deadlineMs = exitDeadlineMs(config.shutdownTimeoutMs) + 1_000;
  const supervisor = new Supervisor({ config, workers, partitions, logger, exitDeadlineMs: deadlineMs });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, deadlineMs }, 'signal received; draining the workers');
    const deadline = setTimeout(() => {
      logger.error({ deadlineMs }, 'workers did not stop in time; killing them');
      supervisor.killAll();
      process.exit(1);
    }, deadlineMs);
    deadline.unref();
    void supervisor.stop().then((code) => {
      logger.info({ code }, 'stopped');
      process.exit(code);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // Each worker re-reads the auth file itself.
  reloadOnSighup(async () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGHUP');
  });
  const { grpcPort, metricsPort } = await supervisor.start();
  logger.info(
    { grpcPort, metricsPort, workers, partitions, dataDir: config.dataDir, fsync: config.fsync },
    'listening',
  );
}

/**
 * Runs only the job processors on a data dir. LevelDB allows one process per directory, so this is for a broker's
 * volume while its server is stopped (maintenance, draining a decommissioned pod's segments to the cold tier);
 * a serving broker runs the same processors itself.
 */
export async function runWorker(config: BrokerConfig, once: boolean): Promise<void> {
  const logger = createLogger(config.logLevel);
  const { jobs, close } = await startWorker(config, logger).catch((err: unknown) => {
    logger.error({ err }, 'startup failed');
    throw err;
  });
  if (once) {
    const compaction = await jobs.runCompactionNow();
    const replicated = await jobs.replicateOwedNow();
    logger.info({ compaction, replicated }, 'worker pass done');
    await close();
    return;
  }
  const onSignal = (): void =>
    void close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/** The worker's composition: log → cold store → jobs, closed in reverse. */
async function startWorker(config: BrokerConfig, logger: Logger) {
  const log = await openLog(logOptionsFromConfig(config));
  const coldStore = await openColdStore(config, undefined, logger).catch(async (err: unknown) => {
    await log.close();
    throw err;
  });
  const jobs = await startBackgroundJobs({
    config,
    log,
    ...(coldStore === undefined ? {} : { coldStore }),
    logger,
  }).catch(async (err: unknown) => {
    await coldStore?.close();
    await log.close();
    throw err;
  });
  const close = async (): Promise<void> => {
    await jobs.close();
    await coldStore?.close();
    await log.close();
  };
  return { jobs, close };
}
