import type { Logger } from 'pino';
import type { BrokerConfig } from '../../core/index.js';
import { handedPort, takeHandedConnections } from '../workers/worker-process.js';
import type { WorkerTopology } from '../workers/worker-topology.js';
import type { BrokerServer } from './broker-server.js';
import { HealthPort } from './health-port.js';
import type { OpenedParts } from './opened-parts.js';

/** The gRPC port: listened on here, or (a worker) the primary's, whose connections it hands over. */
export async function listenOrTake(config: BrokerConfig, server: BrokerServer, topology: WorkerTopology | undefined) {
  if (topology === undefined) return server.listen(config.grpcHost, config.grpcPort);
  takeHandedConnections('grpc', (socket) => server.adopt(socket));
  return handedPort('grpc');
}

/** BROKER_HEALTH_PORT (unless -1): grpc.health.v1 alone, plaintext; closed after the gRPC server (added before). */
export async function serveHealth(
  config: BrokerConfig,
  server: BrokerServer,
  opened: OpenedParts,
  logger: Logger,
  topology: WorkerTopology | undefined,
) {
  if (config.healthPort < 0) return;
  const healthPort = new HealthPort(server);
  opened.add('health port', () => healthPort.close());
  if (topology !== undefined) {
    takeHandedConnections('health', (socket) => healthPort.adopt(socket));
    return;
  }
  const port = await healthPort.listen(config.healthHost ?? config.grpcHost, config.healthPort);
  logger.info({ healthPort: port }, 'health port listening');
}
