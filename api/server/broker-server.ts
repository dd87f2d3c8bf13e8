import { Server, ServerCredentials } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { BrokerConfig, Log, LogReader } from '../../core/index.js';
import { logOptionsFromConfig, openLog } from '../../log/index.js';
import { brokerServiceDefinition } from '../grpc/service-definition.js';
import { BrokerService } from '../grpc/broker-service.js';
import { enlargeHttp2Windows } from '../grpc/http2-windows.js';
import { BrokerReflection } from '../grpc/reflection.js';
import { BrokerMetrics } from '../metrics/broker-metrics.js';
import { startMetricsServer } from '../metrics/metrics-server.js';
import { createLogger } from './logger.js';

/** Background work started beside the gRPC server (compaction, replication); returns how to stop it. */
export type BackgroundStarter = (deps: {
  config: BrokerConfig;
  log: Log;
  registry: Registry;
  logger: Logger;
}) => Promise<{
  reader?: LogReader;
  close(): Promise<void>;
}>;

export interface RunningBroker {
  readonly grpcPort: number;
  /** -1 when the metrics endpoint is off. */
  readonly metricsPort: number;
  readonly log: Log;
  readonly metrics: BrokerMetrics;
  /** Graceful shutdown: new calls UNAVAILABLE, subscriptions ended with UNAVAILABLE, in-flight publishes finish, log closed. */
  close(): Promise<void>;
}

/** Starts a broker: opens the log, serves gRPC (with health and reflection) and /metrics, starts background jobs. */
export async function startBroker(
  config: BrokerConfig,
  deps: { logger?: Logger; background?: BackgroundStarter } = {},
): Promise<RunningBroker> {
  enlargeHttp2Windows();
  const logger = deps.logger ?? createLogger(config.logLevel);
  const metrics = new BrokerMetrics(new Registry());
  const localLog = await openLog(logOptionsFromConfig(config, metrics.logObserver()));
  let background: { reader?: LogReader; close(): Promise<void> } | undefined;
  try {
    background =
      deps.background === undefined
        ? undefined
        : await deps.background({ config, log: localLog, registry: metrics.registry, logger });
  } catch (err) {
    await localLog.close();
    throw err;
  }

  const service = new BrokerService({
    writer: localLog,
    reader: background?.reader ?? localLog,
    metrics,
    retentionMs: config.retentionMs,
    maxBodyBytes: config.maxBodyBytes,
    maxSubscribers: config.maxSubscribers,
  });
  const server = new Server({
    'grpc.max_receive_message_length': config.maxBodyBytes + 64 * 1024,
    'grpc.keepalive_time_ms': 60_000,
    'grpc.keepalive_permit_without_calls': 1,
  });
  server.addService(brokerServiceDefinition, service.handlers());
  const health = new HealthImplementation({ '': 'SERVING', 'broker.Broker': 'SERVING' });
  health.addToServer(server);
  new BrokerReflection().addToServer(server);

  const grpcPort = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${config.grpcHost}:${config.grpcPort}`, ServerCredentials.createInsecure(), (err, port) =>
      err ? reject(err) : resolve(port),
    );
  }).catch(async (err: unknown) => {
    await background?.close();
    await localLog.close();
    throw err;
  });
  const metricsServer =
    config.metricsPort < 0
      ? undefined
      : await startMetricsServer(metrics.registry, config.grpcHost, config.metricsPort);
  logger.info(
    { grpcPort, metricsPort: metricsServer?.port ?? -1, dataDir: config.dataDir, fsync: config.fsync },
    'listening',
  );

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      logger.info('shutting down');
      health.setStatus('', 'NOT_SERVING');
      health.setStatus('broker.Broker', 'NOT_SERVING');
      service.beginShutdown();
      const drained = await service.drain(config.shutdownTimeoutMs);
      if (!drained) logger.warn('in-flight calls did not finish in time');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 1000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      await background?.close();
      await localLog.close();
      await metricsServer?.close();
      logger.info('stopped');
    })();
    return closing;
  };
  return { grpcPort, metricsPort: metricsServer?.port ?? -1, log: localLog, metrics, close };
}
