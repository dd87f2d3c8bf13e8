import cluster from 'node:cluster';
import { Socket } from 'node:net';
import { availableParallelism } from 'node:os';
import type { BrokerConfig } from '../../core/index.js';
import {
  WORKER_ENV,
  isConnectionMessage,
  isPrimaryMessage,
  type HandedPort,
  type WorkerMessage,
} from './cluster-messages.js';
import { WorkerTopology } from './worker-topology.js';

/** BROKER_WORKERS as a count: 'auto' is the cores this process may use (cgroup and affinity limits included). */
export function workerCount(config: BrokerConfig): number {
  return config.workers === 'auto' ? availableParallelism() : config.workers;
}

/** This process's place among the workers when the primary forked it, else undefined (a broker of one process). */
export function topologyFromEnv(
  config: BrokerConfig,
  env: NodeJS.ProcessEnv = process.env,
): WorkerTopology | undefined {
  if (!cluster.isWorker) return undefined;
  const read = (name: string): number => {
    const value = Number(env[name]);
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} is missing or not a count: ${env[name]}`);
    return value;
  };
  const socketDir = env[WORKER_ENV.socketDir];
  if (socketDir === undefined) throw new Error(`${WORKER_ENV.socketDir} is missing`);
  return new WorkerTopology(
    read(WORKER_ENV.index),
    read(WORKER_ENV.count),
    read(WORKER_ENV.partitions),
    socketDir,
    config.brokerId,
  );
}

/** Tells the primary this worker serves. */
export function announceReady(grpcPort: number): void {
  const message: WorkerMessage = { type: 'broker:ready', grpcPort };
  process.send?.(message);
}

/** Tells the primary whether this worker's log accepts writes (the broker's one health status follows it). */
export function reportLogHealth(serving: boolean): void {
  const message: WorkerMessage = { type: 'broker:log-health', serving };
  process.send?.(message);
}

/** Calls back with whether every worker is up, each time the primary says. */
export function onWorkersStatus(listener: (allUp: boolean) => void): void {
  process.on('message', (message: unknown) => {
    if (isPrimaryMessage(message)) listener(message.allUp);
  });
}

/** The port the primary listens on for this worker (connection-dispatcher.ts), from the environment it forked it with. */
export function handedPort(port: HandedPort, env: NodeJS.ProcessEnv = process.env): number {
  const name = port === 'grpc' ? WORKER_ENV.grpcPort : WORKER_ENV.healthPort;
  const value = Number(env[name]);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} is missing or not a port: ${env[name]}`);
  return value;
}

/**
 * Takes the connections of a public port the primary hands this worker: each is acknowledged first (the primary
 * then closes its copy), then served by `accept`.
 */
export function takeHandedConnections(port: HandedPort, accept: (socket: Socket) => void): void {
  process.on('message', (message: unknown, handle: unknown) => {
    if (!isConnectionMessage(message) || message.port !== port || !(handle instanceof Socket)) return;
    const adopted: WorkerMessage = { type: 'broker:connection-adopted', port, id: message.id };
    process.send?.(adopted);
    accept(handle);
  });
}
