import cluster, { type Worker } from 'node:cluster';
import { mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import type { BrokerConfig } from '../../core/index.js';
import { startMetricsServer } from '../metrics/metrics-server.js';
import { QuotaLedger } from '../auth/quota-ledger.js';
import { serverTlsPaths, TlsFiles } from '../security/tls-files.js';
import { WORKER_ENV, isQuotaLeaseRequest, isWorkerMessage, type PrimaryMessage } from './cluster-messages.js';
import { ConnectionDispatcher } from './connection-dispatcher.js';
import { socketDirFor } from './worker-topology.js';

/** Exit codes a restart cannot fix (bad settings, an unreadable data dir, damage): the broker stops instead. */
const FATAL_EXIT_CODES = new Set([2, 3, 4]);
/** Backoff of the restarts of a worker that keeps crashing. */
const RESTART_DELAY_MS = { first: 100, max: 5_000 } as const;

export interface SupervisorOptions {
  readonly config: BrokerConfig;
  readonly workers: number;
  readonly partitions: number;
  readonly logger: Logger;
  /** When a shutdown that has not finished is abandoned (workers killed, exit 1), in ms from the signal. */
  readonly exitDeadlineMs: number;
}

/**
 * The primary process of a broker with several workers: it forks them (node:cluster, so they share the gRPC port),
 * serves the one /metrics of all of them, owns every identity's quota buckets (leased to the workers), restarts a
 * worker that dies (its partitions are unserved meanwhile: the others' calls for them wait, then fail UNAVAILABLE),
 * tells every worker whether all are up (health), and on SIGTERM/SIGINT drains them all and exits 0 once every one
 * has.
 */
export class Supervisor {
  private readonly slots: Array<{ worker?: Worker; ready: boolean; restarts: number; served: boolean; logOk: boolean }>;
  private stopping = false;
  private readonly socketDir: string;
  private metrics: { port: number; close(): Promise<void> } | undefined;
  /** The metrics endpoint's certificate (the workers read their own for gRPC). */
  private tls: TlsFiles | undefined;
  private started!: { resolve: (port: number) => void; reject: (err: Error) => void };
  private failedCode: number | undefined;
  /** Every identity's quota buckets: the workers lease tokens from them, so a quota holds for the whole broker. */
  private readonly quotas = new QuotaLedger();
  /** The public ports, listened on here and handed to the workers connection by connection. */
  private readonly ports: { grpc: ConnectionDispatcher; health?: ConnectionDispatcher };
  private grpcPort = 0;
  private healthPort = -1;

  constructor(private readonly options: SupervisorOptions) {
    this.slots = Array.from({ length: options.workers }, () => ({
      ready: false,
      restarts: 0,
      served: false,
      logOk: true,
    }));
    this.socketDir = socketDirFor(options.config.dataDir);
    const { logger, config } = options;
    this.ports = {
      grpc: new ConnectionDispatcher('grpc', logger, config.maxConnections),
      ...(config.healthPort < 0 ? {} : { health: new ConnectionDispatcher('health', logger) }),
    };
  }

  /** Forks every worker and resolves with the gRPC port once all serve; rejects if one cannot start at all. */
  async start(): Promise<{ grpcPort: number; metricsPort: number }> {
    await mkdir(this.socketDir, { recursive: true, mode: 0o700 });
    const { config } = this.options;
    if (config.metricsPort >= 0) {
      // One endpoint for all: prom-client asks each worker for its registry over IPC and merges them.
      const aggregator = new AggregatorRegistry();
      const registry = { metrics: () => aggregator.clusterMetrics(), contentType: aggregator.contentType };
      const paths = serverTlsPaths(config);
      if (paths !== undefined) this.tls = await TlsFiles.open(paths, config.tlsReloadIntervalMs, this.options.logger);
      this.metrics = await startMetricsServer(
        registry,
        config.metricsHost ?? config.grpcHost,
        config.metricsPort,
        this.tls,
      );
    }
    // Bound before any worker starts: a port in use fails the start, and every worker is told the port it serves.
    this.grpcPort = await this.ports.grpc.listen(config.grpcHost, config.grpcPort);
    if (this.ports.health !== undefined) {
      this.healthPort = await this.ports.health.listen(config.healthHost ?? config.grpcHost, config.healthPort);
      this.options.logger.info({ healthPort: this.healthPort }, 'health port listening');
    }
    const grpcPort = await new Promise<number>((resolve, reject) => {
      this.started = { resolve, reject };
      cluster.on('exit', (worker, code, signal) => this.exited(worker, code, signal));
      cluster.on('message', (worker, message: unknown) => this.received(worker, message));
      for (let i = 0; i < this.slots.length; i++) this.fork(i);
    });
    return { grpcPort, metricsPort: this.metrics?.port ?? -1 };
  }

  /** Drains every worker (each does the graceful shutdown of a broker) and resolves with the exit code. */
  async stop(): Promise<number> {
    this.stopping = true;
    // No new connections while the workers drain (node:cluster's own port closed as each worker stopped listening).
    this.ports.grpc.close();
    this.ports.health?.close();
    const exits = this.slots.map((slot) => slot.worker).filter((w): w is Worker => w !== undefined && !w.isDead());
    const codes = await Promise.all(
      exits.map(
        (worker) =>
          new Promise<number>((resolve) => {
            worker.once('exit', (code) => resolve(code));
            worker.process.kill('SIGTERM');
          }),
      ),
    );
    await this.metrics?.close();
    this.tls?.close();
    return codes.every((c) => c === 0) && this.failedCode === undefined ? 0 : (this.failedCode ?? 1);
  }

  /** Kills the workers at once (the shutdown deadline has passed). */
  killAll(): void {
    for (const slot of this.slots) slot.worker?.process.kill('SIGKILL');
  }

  private fork(index: number): void {
    const slot = this.slots[index];
    if (slot === undefined) return;
    slot.ready = false;
    slot.worker = cluster.fork({
      [WORKER_ENV.index]: String(index),
      [WORKER_ENV.count]: String(this.slots.length),
      [WORKER_ENV.partitions]: String(this.options.partitions),
      [WORKER_ENV.socketDir]: this.socketDir,
      [WORKER_ENV.grpcPort]: String(this.grpcPort),
      [WORKER_ENV.healthPort]: String(this.healthPort),
    });
  }

  private received(worker: Worker, message: unknown): void {
    if (isQuotaLeaseRequest(message)) {
      if (worker.isConnected()) worker.send(this.quotas.lease(message));
      return;
    }
    if (!isWorkerMessage(message)) return;
    const index = this.slots.findIndex((s) => s.worker === worker);
    const slot = this.slots[index];
    if (slot === undefined) return;
    if (message.type === 'broker:connection-adopted') {
      this.ports[message.port]?.adopted(message.id);
      return;
    }
    if (message.type === 'broker:log-health') {
      slot.logOk = message.serving;
      this.broadcast();
      return;
    }
    slot.ready = true;
    slot.logOk = true;
    slot.served = true;
    slot.restarts = 0;
    this.ports.grpc.workerServing(worker);
    this.ports.health?.workerServing(worker);
    this.options.logger.info({ worker: index, pid: worker.process.pid }, 'worker serving');
    if (this.slots.every((s) => s.ready)) this.started.resolve(message.grpcPort);
    this.broadcast();
  }

  private exited(worker: Worker, code: number | null, signal: string | null): void {
    const index = this.slots.findIndex((s) => s.worker === worker);
    const slot = this.slots[index];
    this.ports.grpc.workerGone(worker);
    this.ports.health?.workerGone(worker);
    if (slot === undefined || this.stopping) return;
    const wasReady = slot.ready;
    slot.ready = false;
    slot.worker = undefined;
    this.broadcast();
    const { logger } = this.options;
    // A worker that never served failed to start (a port in use, a bad setting): restarting would fail the same way.
    if (!slot.served || (code !== null && FATAL_EXIT_CODES.has(code))) {
      logger.error({ worker: index, code, signal }, 'worker cannot start; stopping the broker');
      this.failedCode = code !== null && code !== 0 ? code : 1;
      this.started.reject(new Error(`worker ${index} exited with ${code}`));
      process.kill(process.pid, 'SIGTERM');
      return;
    }
    const delay = Math.min(RESTART_DELAY_MS.first * 2 ** slot.restarts, RESTART_DELAY_MS.max);
    slot.restarts += 1;
    logger.error({ worker: index, code, signal, wasReady, restartInMs: delay }, 'worker died; restarting it');
    setTimeout(() => {
      if (!this.stopping) this.fork(index);
    }, delay);
  }

  /** Every worker learns whether all are up and writable: health is NOT_SERVING while any partition is not. */
  private broadcast(): void {
    const message: PrimaryMessage = { type: 'broker:workers', allUp: this.slots.every((s) => s.ready && s.logOk) };
    for (const slot of this.slots) if (slot.worker?.isConnected() === true) slot.worker.send(message);
  }
}
