import { Server, ServerCredentials, credentials } from '@grpc/grpc-js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { Log } from '../../../core/index.js';
import { openLog, type LogOptions } from '../../../log/index.js';
import { TEST_LOG_DEFAULTS } from '../../../log/test-support/temp-log.js';
import { BrokerClient } from '../../../proto/gen/broker.js';
import { BrokerService } from '../../grpc/broker-service.js';
import { brokerServiceDefinition } from '../../grpc/service-definition.js';
import { BrokerMetrics } from '../../metrics/broker-metrics.js';

/** Quick reconnects for tests: grpc-js waits 1 s, growing to 2 min, between attempts to reach a socket by default. */
export const FAST_RECONNECT = {
  'grpc.initial_reconnect_backoff_ms': 50,
  'grpc.max_reconnect_backoff_ms': 300,
  'grpc.use_local_subchannel_pool': 1,
} as const;

/**
 * A worker that owns subjects, as another worker reaches it: a real log in a temp dir behind the real BrokerService,
 * on a grpc-js server bound to a unix socket. It counts the Subscribe calls it receives and can restart (server and
 * log) on the same socket, as a crashed worker restarted by the supervisor would.
 */
export class OwnerWorker {
  /** Subscribe calls received, over every restart. */
  subscribeCalls = 0;
  private server: Server | undefined;
  private generation = 0;
  private service: BrokerService | undefined;

  private constructor(
    readonly dir: string,
    readonly address: string,
    public log: Log,
    private readonly logOptions: Partial<LogOptions>,
  ) {}

  static async start(logOptions: Partial<LogOptions> = {}): Promise<OwnerWorker> {
    const dir = await mkdtemp(join(tmpdir(), 'broker-owner-'));
    const log = await openLog({ ...TEST_LOG_DEFAULTS, ...logOptions, dataDir: join(dir, 'data-0') });
    const owner = new OwnerWorker(dir, `unix:${join(dir, 'owner.sock')}`, log, logOptions);
    await owner.serve();
    return owner;
  }

  /** A client of this owner, as the hub's clientFor returns it (the caller closes it). */
  client(): BrokerClient {
    return new BrokerClient(this.address, credentials.createInsecure(), FAST_RECONNECT);
  }

  /** Open Subscribe streams on the owner now. */
  get openSubscriptions(): number {
    return this.service?.subscriberCount ?? 0;
  }

  async publish(subject: string, text: string): Promise<number> {
    return this.log.append({ subject, body: Buffer.from(text), expirationSeconds: 0 });
  }

  /**
   * Stops as a draining broker does: open Subscribe streams end with UNAVAILABLE (reason UNAVAILABLE), new calls are
   * refused, then the server closes; the log stays open.
   */
  async drainAndStop(): Promise<void> {
    this.service?.beginShutdown();
    const server = this.server;
    this.server = undefined;
    this.service = undefined;
    await new Promise<void>((resolve) => (server === undefined ? resolve() : server.tryShutdown(() => resolve())));
  }

  /** Stops serving at once (open streams see the connection drop); the log stays open. */
  stop(): void {
    this.server?.forceShutdown();
    this.server = undefined;
    this.service = undefined;
  }

  /**
   * Closes and reopens the log, then serves again on the same socket. `lost`: the new log starts empty, as if the
   * owner had lost its data (its ids go backwards).
   */
  async restart(options: { lost?: boolean; graceful?: boolean } = {}): Promise<void> {
    if (options.graceful === true) await this.drainAndStop();
    else this.stop();
    await this.log.close();
    if (options.lost === true) this.generation += 1;
    this.log = await openLog({ ...TEST_LOG_DEFAULTS, ...this.logOptions, dataDir: this.dataDir() });
    await this.serve();
  }

  private dataDir(): string {
    return join(this.dir, `data-${this.generation}`);
  }

  async dispose(): Promise<void> {
    this.stop();
    await this.log.close();
    await rm(this.dir, { recursive: true, force: true });
  }

  async serve(): Promise<void> {
    const service = new BrokerService({
      writer: this.log,
      reader: this.log,
      metrics: new BrokerMetrics(new Registry()),
      retentionMs: 0,
      maxBodyBytes: 1024 * 1024,
      maxSubscribers: 100,
      logger: pino({ level: 'silent' }),
    });
    const handlers = service.handlers();
    const server = new Server();
    server.addService(brokerServiceDefinition, {
      ...handlers,
      subscribe: (call: Parameters<typeof handlers.subscribe>[0]) => {
        this.subscribeCalls += 1;
        handlers.subscribe(call);
      },
    });
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(this.address, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
    this.server = server;
    this.service = service;
  }
}
