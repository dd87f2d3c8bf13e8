import { Server } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import type { Logger } from 'pino';
import type { Socket } from 'node:net';
import { ConnectionGate, type ConnectionGateStats, type Protocol } from './connection-gate.js';
import type { BrokerService } from '../grpc/broker-service.js';
import { enlargeHttp2Windows } from '../grpc/http2-windows.js';
import { BrokerReflection } from '../grpc/reflection.js';
import { brokerServiceDefinition } from '../grpc/service-definition.js';
import { CallGate } from '../grpc/call-gate.js';
import { dispatchForwarded } from '../grpc/forwarded-dispatch.js';
import { ForwardingService } from '../../proto/gen/internal.js';
import type { ForwardedCalls } from '../workers/owner-side.js';
import type { ClusterToken } from '../security/cluster-token.js';
import { PlaintextRefusal, serverCredentials } from '../security/grpc-tls.js';
import type { TlsFiles } from '../security/tls-files.js';

export interface BrokerServerOptions {
  /** The largest body a publish may carry, in bytes (BROKER_MAX_BODY_BYTES); requests get 64 KiB on top. */
  readonly maxBodyBytes: number;
  /** Connection limits: BROKER_MAX_CONNECTIONS, BROKER_HANDSHAKE_TIMEOUT, BROKER_MAX_CONNECTION_IDLE/AGE/AGE_GRACE. */
  readonly connections: ConnectionLimits;
  /** The largest FetchRange page, in bytes (BROKER_MAX_RESPONSE_BYTES); sends get 64 KiB on top. */
  readonly maxResponseBytes: number;
  /** Concurrent calls one HTTP/2 connection may open (BROKER_MAX_STREAMS_PER_CONNECTION). */
  readonly maxStreamsPerConnection: number;
  /** How long a graceful shutdown waits for in-flight calls, in ms (BROKER_SHUTDOWN_TIMEOUT). */
  readonly shutdownTimeoutMs: number;
  readonly logger: Logger;
  /** A cluster member's port also answers the calls other members forward to it. @defaultValue none */
  readonly forwarded?: ForwardedCalls;
  /** TLS only, from these files (BROKER_TLS_*); plaintext calls are answered UNAUTHENTICATED. @defaultValue plaintext */
  readonly tls?: TlsFiles;
  /** Forwarded calls (and Forwarding/Append) must carry it (BROKER_CLUSTER_TOKEN). @defaultValue not checked */
  readonly clusterToken?: ClusterToken;
}

export interface ConnectionLimits {
  readonly maxConnections: number;
  readonly handshakeTimeoutMs: number;
  /** A connection with no call open this long gets a GOAWAY, in ms (0 = never). */
  readonly maxConnectionIdleMs: number;
  /** Any connection gets a GOAWAY this long after it opened, in ms (0 = never); clients reconnect, to rebalance. */
  readonly maxConnectionAgeMs: number;
  /** After the age's GOAWAY, calls still open get this long before the connection is closed, in ms. */
  readonly maxConnectionAgeGraceMs: number;
}

/** grpc-js reads an absent option as "never"; the broker's settings say 0 for it. */
function whenSet(name: string, ms: number): Record<string, number> {
  return ms > 0 ? { [name]: ms } : {};
}

/** What the gRPC server still gets after the drain to end its calls before it cancels them, in ms. */
export const FORCE_SHUTDOWN_AFTER_MS = 1_000;

/**
 * The gRPC endpoint: broker.Broker, grpc.health.v1.Health and reflection on one grpc-js Server, and its graceful
 * shutdown (health NOT_SERVING, new calls UNAVAILABLE, open streams ended, in-flight calls drained, then closed).
 */
export class BrokerServer {
  private readonly server: Server;
  private readonly gate: ConnectionGate;
  private readonly health = new HealthImplementation({ '': 'SERVING', 'broker.Broker': 'SERVING' });
  private closing = false;
  /** Forwarded appends in flight (a cluster member's), for the drain. */
  private readonly appends = new CallGate();
  /** The parts that have said they cannot serve (see setServing). */
  private readonly notServing = new Set<string>();
  /** With TLS: what answers plaintext connections. */
  private readonly plaintext: PlaintextRefusal | undefined;

  constructor(
    private readonly service: BrokerService,
    private readonly options: BrokerServerOptions,
  ) {
    // Before the Server exists: grpc-js creates its HTTP/2 server at bind, through the wrapped factory.
    enlargeHttp2Windows();
    this.server = new Server({
      'grpc.max_receive_message_length': options.maxBodyBytes + 64 * 1024,
      // No answer is larger than a page or one message: the send limit is the backstop behind the page clamp.
      'grpc.max_send_message_length': Math.max(options.maxResponseBytes, options.maxBodyBytes) + 64 * 1024,
      // Bounds what one connection holds at once (400 concurrent 1 MiB publishes on one connection took 1.78 GiB).
      'grpc.max_concurrent_streams': options.maxStreamsPerConnection,
      'grpc.keepalive_time_ms': 60_000,
      'grpc.keepalive_permit_without_calls': 1,
      ...whenSet('grpc.max_connection_idle_ms', options.connections.maxConnectionIdleMs),
      ...whenSet('grpc.max_connection_age_ms', options.connections.maxConnectionAgeMs),
      ...whenSet('grpc.max_connection_age_grace_ms', options.connections.maxConnectionAgeGraceMs),
    });
    const forwarded = options.forwarded;
    this.server.addService(
      brokerServiceDefinition,
      forwarded === undefined
        ? service.handlers()
        : dispatchForwarded(service.handlers(), forwarded.service.handlers(), options.clusterToken),
    );
    if (forwarded !== undefined) {
      const append = forwarded.append((work) => this.appends.run(work));
      const token = options.clusterToken;
      this.server.addService(ForwardingService, { append: token === undefined ? append : token.guardUnary(append) });
    }
    this.health.addToServer(this.server);
    new BrokerReflection().addToServer(this.server);
    // The broker listens itself and injects sockets once they have sent the HTTP/2 preface (connection-gate.ts).
    const injector = this.server.createConnectionInjector(
      serverCredentials(options.tls, options.connections.handshakeTimeoutMs),
    );
    const tls = options.tls !== undefined;
    this.plaintext = tls ? new PlaintextRefusal() : undefined;
    const inject = (socket: Socket, protocol: Protocol): void => {
      if (protocol === 'tls' ? tls : !tls) injector.injectConnection(socket);
      else if (this.plaintext !== undefined) this.plaintext.inject(socket);
      // A TLS client of a plaintext broker: no TLS to answer it in; its handshake fails on the closed socket.
      else socket.destroy();
    };
    this.gate = new ConnectionGate(inject, {
      maxConnections: options.connections.maxConnections,
      handshakeTimeoutMs: options.connections.handshakeTimeoutMs,
      logger: options.logger,
    });
  }

  /** The client connections open, refused and closed in their handshake (for the metrics). */
  get connections(): ConnectionGateStats {
    return this.gate.stats;
  }

  /** Binds host:port (0 = any free port) and resolves with the port bound. */
  listen(host: string, port: number): Promise<number> {
    return this.gate.listen(host, port);
  }

  /** Serves a connection a worker was handed (the primary listens): limits and handshake timeout as for its own. */
  adopt(socket: Socket): void {
    this.gate.adopt(socket);
  }

  /**
   * Health follows the log: NOT_SERVING while it refuses writes (a failed write, until it recovers), so probes
   * and load balancers take the broker out of rotation. A shutdown's NOT_SERVING is never undone. With several
   * workers, `part` 'workers' says whether they are all up (a worker down leaves its partitions unserved).
   */
  setServing(serving: boolean, part = 'log'): void {
    if (this.closing) return;
    // Serving only while every part says so: the log, and with several workers, all of them being up.
    if (serving) this.notServing.delete(part);
    else this.notServing.add(part);
    const status = this.notServing.size === 0 ? 'SERVING' : 'NOT_SERVING';
    this.health.setStatus('', status);
    this.health.setStatus('broker.Broker', status);
  }

  /** The same health service, statuses and watches on another grpc-js Server too (the health port). */
  addHealthTo(server: Server): void {
    this.health.addToServer(server);
  }

  /** Health of a part the broker serves without (e.g. the cold tier): its own service name, not the broker's. */
  setSubServiceServing(service: string, serving: boolean): void {
    if (this.closing) return;
    this.health.setStatus(service, serving ? 'SERVING' : 'NOT_SERVING');
  }

  /** The graceful shutdown; everything acknowledged is already in the log, so a forced end loses nothing. */
  async close(): Promise<void> {
    this.closing = true;
    this.health.setStatus('', 'NOT_SERVING');
    this.health.setStatus('broker.Broker', 'NOT_SERVING');
    this.service.beginShutdown();
    this.options.forwarded?.service.beginShutdown();
    this.appends.beginShutdown();
    // No new connections from here; those established drain with their calls below.
    const gateClosed = this.gate.close();
    const timeout = this.options.shutdownTimeoutMs;
    const forwardedService = this.options.forwarded?.service;
    const [drained, forwardedDrained, appendsDrained] = await Promise.all([
      this.service.drain(timeout),
      forwardedService === undefined ? true : forwardedService.drain(timeout),
      this.appends.drain(timeout),
    ]);
    if (!forwardedDrained || !appendsDrained) this.options.logger.warn('forwarded calls did not finish in time');
    if (!drained) this.options.logger.warn('in-flight calls did not finish in time');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, FORCE_SHUTDOWN_AFTER_MS);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    await gateClosed;
    this.plaintext?.close();
  }
}
