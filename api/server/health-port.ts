import { Server, ServerCredentials, type ConnectionInjector } from '@grpc/grpc-js';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { InvariantError } from '../../core/index.js';

/** Whatever serves grpc.health.v1 on a grpc-js Server (the broker's one HealthImplementation). */
export interface HealthSource {
  addHealthTo(server: Server): void;
}

/**
 * BROKER_HEALTH_PORT: a plaintext listener that serves grpc.health.v1 and nothing else (any other call is
 * UNIMPLEMENTED), for probes that cannot speak TLS or send a token, such as the kubelet's gRPC probes. It shares the
 * broker's HealthImplementation, so it answers the same statuses as the main port, as they change (a drain's
 * NOT_SERVING included). It reveals only whether the broker serves: no subject, no message, no reflection.
 * With several workers the primary listens and hands each connection to a worker, like the gRPC port
 * (connection-dispatcher.ts), and each worker's status already includes the others being up.
 */
export class HealthPort {
  private readonly server = new Server();
  private listener: NetServer | undefined;
  private readonly sockets = new Set<Socket>();
  /** Made once the health service is added: listen() and adopt() share it. */
  private readonly injector: ConnectionInjector;
  private closed = false;

  constructor(health: HealthSource) {
    health.addHealthTo(this.server);
    this.injector = this.server.createConnectionInjector(ServerCredentials.createInsecure());
  }

  /** Binds host:port (0 = any free port) and resolves with the port bound. */
  async listen(host: string, port: number): Promise<number> {
    const listener = createServer((socket) => this.adopt(socket));
    this.listener = listener;
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen({ host, port }, () => resolve());
    });
    const address = listener.address();
    if (address === null || typeof address === 'string')
      throw new InvariantError(`the health listener on ${host}:${port} has no port`);
    return address.port;
  }

  /** Serves a connection accepted here, or handed to this worker by the primary. */
  adopt(socket: Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    this.injector.injectConnection(socket);
  }

  /** Closed after the gRPC server: probes see the drain's NOT_SERVING until the end. */
  async close(): Promise<void> {
    this.closed = true;
    this.server.forceShutdown();
    for (const socket of this.sockets) socket.destroy();
    const listener = this.listener;
    if (listener === undefined) return;
    await new Promise<void>((resolve) => listener.close(() => resolve()));
  }
}
