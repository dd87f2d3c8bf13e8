import type { BrokerConfig } from '../../core/index.js';
import { logOptionsFromConfig, openLog } from '../../log/index.js';
// Not the replication/ barrel: it loads the BullMQ and Cassandra clients, which the embedded default never uses.
import { startBackgroundJobs } from './background-jobs.js';
import { startBroker, type BackgroundStarter } from './broker-server.js';
import { createLogger } from './logger.js';

/** The production background: compaction and replication on BullMQ or in process, with tiered reads. */
export const defaultBackground: BackgroundStarter = async ({ config, log, registry, logger }) =>
  startBackgroundJobs({ config, log, registry, logger });

/** Runs a broker in this process until SIGTERM or SIGINT, then shuts it down gracefully and exits 0. */
export async function runServer(
  config: BrokerConfig,
  background: BackgroundStarter = defaultBackground,
): Promise<void> {
  const logger = createLogger(config.logLevel);
  // A stray rejection is a bug to log, not a reason to drop every connection and subscription.
  process.on('unhandledRejection', (err: unknown) => logger.error({ err }, 'unhandled rejection'));
  const broker = await startBroker(config, { logger, background });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'signal received');
    // The contract gives a shutdown 10 s; past that, exit anyway (everything acknowledged is already on disk).
    const deadline = setTimeout(() => {
      logger.error('shutdown took longer than 10 s; exiting');
      process.exit(1);
    }, 10_000);
    deadline.unref();
    broker.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/**
 * Runs only the job processors on a data dir. LevelDB allows one process per directory, so this is for a broker's
 * volume while its server is stopped (maintenance, draining a decommissioned pod's segments to the cold tier);
 * a serving broker runs the same processors itself.
 */
export async function runWorker(config: BrokerConfig, once: boolean): Promise<void> {
  const logger = createLogger(config.logLevel);
  const log = await openLog(logOptionsFromConfig(config));
  const jobs = await startBackgroundJobs({ config, log, logger });
  const stop = async (): Promise<void> => {
    await jobs.close();
    await log.close();
  };
  if (once) {
    const compaction = await jobs.runner.runCompactionNow();
    const replicated = await jobs.runner.replicateOwedNow();
    logger.info({ compaction, replicated }, 'worker pass done');
    await stop();
    return;
  }
  const onSignal = (): void => void stop().then(() => process.exit(0));
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
