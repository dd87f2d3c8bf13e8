/** What the primary and its workers tell each other over node:cluster's IPC channel. */
export type WorkerMessage =
  | { readonly type: 'broker:ready'; readonly grpcPort: number }
  /** The worker took the connection the primary handed it (connection-dispatcher.ts): the primary closes its copy. */
  | { readonly type: 'broker:connection-adopted'; readonly port: HandedPort; readonly id: number }
  /** The worker's log refuses writes (false) or accepts them again (true). */
  | { readonly type: 'broker:log-health'; readonly serving: boolean };
/** Whether the whole broker serves: every worker up and every worker's log accepting writes. */
export type PrimaryMessage = { readonly type: 'broker:workers'; readonly allUp: boolean };

/** The public ports the primary listens on and hands connections of to the workers. */
export type HandedPort = 'grpc' | 'health';

/** A connection of a public port, sent with the message as its handle. */
export interface PrimaryConnectionMessage {
  readonly type: 'broker:connection';
  readonly port: HandedPort;
  readonly id: number;
}

/** Messages of an identity's quota and bytes of it: what a lease asks for or grants (0 where the quota has no rate). */
export interface QuotaTokens {
  readonly messages: number;
  readonly bytes: number;
}

/**
 * A worker asks the primary, which owns every identity's buckets, for tokens of one quota (api/auth/leased-limit.ts):
 * at least `need` or none, up to `want` (a tenth of a second's worth) when the bucket has them.
 */
export interface QuotaLeaseRequest {
  readonly type: 'broker:quota-lease';
  /** Pairs the answer with the question (per worker). */
  readonly id: number;
  /** The identity and direction (`<name>/publish`, `<name>/delivery`). */
  readonly key: string;
  /** The quota as this worker read it from the auth file (a changed rate starts a new bucket). */
  readonly rate: { readonly messagesPerSecond?: number | undefined; readonly bytesPerSecond?: number | undefined };
  readonly need: QuotaTokens;
  readonly want: QuotaTokens;
}

/** The primary's answer: tokens granted, or none and how long until `need` fits (retryMs > 0). */
export interface QuotaGrant extends QuotaTokens {
  readonly type: 'broker:quota-grant';
  readonly id: number;
  readonly retryMs: number;
}

/** The environment a worker is forked with: who it is among how many, and what the primary settled for all. */
export const WORKER_ENV = {
  index: 'BROKER_WORKER_INDEX',
  count: 'BROKER_WORKER_COUNT',
  partitions: 'BROKER_WORKER_PARTITIONS',
  socketDir: 'BROKER_WORKER_SOCKET_DIR',
  /** The ports the primary listens on (it hands their connections over): what the worker reports and advertises. */
  grpcPort: 'BROKER_WORKER_GRPC_PORT',
  healthPort: 'BROKER_WORKER_HEALTH_PORT',
} as const;

export function isWorkerMessage(value: unknown): value is WorkerMessage {
  const type = typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined;
  return type === 'broker:ready' || type === 'broker:log-health' || type === 'broker:connection-adopted';
}

export function isConnectionMessage(value: unknown): value is PrimaryConnectionMessage {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'broker:connection';
}

export function isPrimaryMessage(value: unknown): value is PrimaryMessage {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'broker:workers';
}

export function isQuotaLeaseRequest(value: unknown): value is QuotaLeaseRequest {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'broker:quota-lease';
}

export function isQuotaGrant(value: unknown): value is QuotaGrant {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'broker:quota-grant';
}
