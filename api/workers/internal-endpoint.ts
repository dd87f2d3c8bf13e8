import { Server, ServerCredentials } from '@grpc/grpc-js';
import { mkdir, rm } from 'node:fs/promises';
import { createServer, type Server as NetServer } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { LogWriter } from '../../core/index.js';
import { ForwardingService } from '../../proto/gen/internal.js';
import type { BrokerService } from '../grpc/broker-service.js';
import { CallGate } from '../grpc/call-gate.js';
import { brokerServiceDefinition } from '../grpc/service-definition.js';
import type { RequestGuard } from '../grpc/validate.js';
import { appendHandler } from './append-handler.js';

/** What the endpoint serves: the owner-only broker.Broker service and the log appends of forwarded publishes. */
export interface InternalEndpointDeps {
  /** A BrokerService over this worker's own partitions, with no router: it never forwards (the log refuses the rest). */
  readonly service: BrokerService;
  readonly writer: LogWriter;
  readonly guard: RequestGuard;
  readonly logger: Logger;
}

/**
 * A worker's endpoint for the other workers of its broker: a unix socket (this host only; no TCP port to secure),
 * serving broker.Broker for the partitions it owns and broker.internal.Forwarding. It listens exclusively (not
 * through node:cluster's shared handles: each worker has its own socket) and closes after the public server, so
 * the calls other workers forward while they drain can still finish.
 */
export class InternalEndpoint {
  private readonly server = new Server({
    'grpc.max_receive_message_length': -1,
    'grpc.max_send_message_length': -1,
  });
  private readonly appends = new CallGate();
  private listener: NetServer | undefined;

  constructor(private readonly deps: InternalEndpointDeps) {
    this.server.addService(brokerServiceDefinition, deps.service.handlers());
    this.server.addService(ForwardingService, {
      append: appendHandler({
        writer: deps.writer,
        guard: deps.guard,
        logger: deps.logger,
        track: (work) => this.appends.run(work),
      }),
    });
  }

  async listen(path: string): Promise<void> {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    // A socket file left by a worker that was killed: nobody listens on it any more (this worker owns the name).
    await rm(path, { force: true });
    const injector = this.server.createConnectionInjector(ServerCredentials.createInsecure());
    const listener = createServer((socket) => injector.injectConnection(socket));
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen({ path, exclusive: true }, () => resolve());
    });
    this.listener = listener;
  }

  /** New calls UNAVAILABLE, in-flight appends and reads finished (up to timeoutMs), then the socket closed. */
  async close(timeoutMs: number): Promise<void> {
    this.appends.beginShutdown();
    this.deps.service.beginShutdown();
    const [appended, served] = await Promise.all([this.appends.drain(timeoutMs), this.deps.service.drain(timeoutMs)]);
    if (!appended || !served) this.deps.logger.warn('forwarded calls did not finish in time');
    this.listener?.close();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, 1_000);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
