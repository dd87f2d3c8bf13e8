import type { BrokerConfig } from '../../core/index.js';
import { startBroker, type BackgroundStarter } from './broker-server.js';
import { createLogger } from './logger.js';

/** Runs a broker in this process until SIGTERM or SIGINT, then shuts it down gracefully and exits 0. */
export async function runServer(config: BrokerConfig, background?: BackgroundStarter): Promise<void> {
  const logger = createLogger(config.logLevel);
  const broker = await startBroker(config, { logger, ...(background === undefined ? {} : { background }) });
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
