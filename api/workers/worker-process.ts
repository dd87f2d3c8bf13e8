import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { BrokerConfig } from '../../core/index.js';
import { WORKER_ENV, isPrimaryMessage, type WorkerMessage } from './cluster-messages.js';
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
