import { Server, ServerCredentials, credentials } from '@grpc/grpc-js';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { BrokerClient } from '../../proto/gen/broker.js';
import { BrokerService, type BrokerServiceOptions } from '../grpc/broker-service.js';
import { brokerServiceDefinition } from '../grpc/service-definition.js';
import { BrokerMetrics } from '../metrics/broker-metrics.js';

/** Log lines a test captured: each parsed from pino's JSON. */
export type CapturedLines = Array<Record<string, unknown>>;

/**
 * A BrokerService served over real gRPC on loopback (127.0.0.1, any free port), its log lines captured. The caller
 * gives the writer and reader (a real log, or one wrapped to script what the real one cannot be made to do).
 */
export async function serveInProcess(
  options: Pick<BrokerServiceOptions, 'writer' | 'reader'> & Partial<BrokerServiceOptions>,
): Promise<{ client: BrokerClient; address: string; lines: CapturedLines; close(): void }> {
  const lines: CapturedLines = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const service = new BrokerService({
    metrics: new BrokerMetrics(new Registry()),
    retentionMs: 0,
    maxBodyBytes: 1024 * 1024,
    maxSubscribers: 10,
    logger,
    ...options,
  });
  const server = new Server();
  server.addService(brokerServiceDefinition, service.handlers());
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const address = `127.0.0.1:${port}`;
  const client = new BrokerClient(address, credentials.createInsecure());
  return {
    client,
    address,
    lines,
    close() {
      client.close();
      server.forceShutdown();
    },
  };
}
