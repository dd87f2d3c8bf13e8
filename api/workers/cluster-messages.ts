/** What the primary and its workers tell each other over node:cluster's IPC channel. */
export type WorkerMessage =
  | { readonly type: 'broker:ready'; readonly grpcPort: number }
  /** The worker's log refuses writes (false) or accepts them again (true). */
  | { readonly type: 'broker:log-health'; readonly serving: boolean };
/** Whether the whole broker serves: every worker up and every worker's log accepting writes. */
export type PrimaryMessage = { readonly type: 'broker:workers'; readonly allUp: boolean };

/** The environment a worker is forked with: who it is among how many, and what the primary settled for all. */
export const WORKER_ENV = {
  index: 'BROKER_WORKER_INDEX',
  count: 'BROKER_WORKER_COUNT',
  partitions: 'BROKER_WORKER_PARTITIONS',
  socketDir: 'BROKER_WORKER_SOCKET_DIR',
} as const;

export function isWorkerMessage(value: unknown): value is WorkerMessage {
  const type = typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined;
  return type === 'broker:ready' || type === 'broker:log-health';
}

export function isPrimaryMessage(value: unknown): value is PrimaryMessage {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'broker:workers';
}
