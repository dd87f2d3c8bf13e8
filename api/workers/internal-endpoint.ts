import { Server, ServerCredentials } from '@grpc/grpc-js';
import { mkdir, rm } from 'node:fs/promises';
import { createServer, type ListenOptions, type Server as NetServer } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { InvariantError } from '../../core/index.js';
import { ForwardingService } from '../../proto/gen/internal.js';
import { CallGate } from '../grpc/call-gate.js';
import { requireClusterToken } from '../grpc/forwarded-dispatch.js';
import { brokerServiceDefinition } from '../grpc/service-definition.js';
import type { ClusterToken } from '../security/cluster-token.js';
import { serverCredentials } from '../security/grpc-tls.js';
import type { TlsFiles } from '../security/tls-files.js';
import type { ForwardedCalls } from './owner-side.js';

/** What a TCP peer port (a cluster member's worker) requires of the members calling it. */
export interface PeerPortSecurity {
  /** TLS, with a client certificate of the CA in it required. @defaultValue plaintext */
  readonly tls?: TlsFiles;
  /** Every call must carry it. @defaultValue not checked */
  readonly clusterToken?: ClusterToken;
  /** A TLS handshake not finished this long after it began closes the connection, ms. @defaultValue node's 120 s */
  readonly handshakeTimeoutMs?: number;
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

  constructor(
    /** The owner side (owner-side.ts): the service over this worker's own partitions, and Append. */
    private readonly owner: ForwardedCalls,
    private readonly logger: Logger,
    /** For listenTcp: the unix socket's directory (mode 0700) is its only guard. */
    private readonly security: PeerPortSecurity = {},
  ) {
    const token = security.clusterToken;
    const handlers = owner.service.handlers();
    const append = owner.append((work) => this.appends.run(work));
    this.server.addService(
      brokerServiceDefinition,
      token === undefined ? handlers : requireClusterToken(handlers, token),
    );
    this.server.addService(ForwardingService, { append: token === undefined ? append : token.guardUnary(append) });
  }

  async listen(path: string): Promise<void> {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    // A socket file left by a worker that was killed: nobody listens on it any more (this worker owns the name).
    await rm(path, { force: true });
    await this.listenOn({ path, exclusive: true }, ServerCredentials.createInsecure());
  }

  /**
   * Serves on a TCP port of this worker alone (a cluster member's worker, reached by the other members): exclusive,
   * so node:cluster neither shares it with the other workers nor hands port 0 the same port in each of them.
   */
  async listenTcp(host: string, port: number): Promise<number> {
    const listener = await this.listenOn(
      { host, port, exclusive: true },
      serverCredentials(this.security.tls, this.security.handshakeTimeoutMs),
    );
    const address = listener.address();
    if (address === null || typeof address === 'string')
      throw new InvariantError(`a TCP listener on ${host}:${port} has no port`);
    return address.port;
  }

  private async listenOn(options: ListenOptions, credentials: ServerCredentials): Promise<NetServer> {
    const injector = this.server.createConnectionInjector(credentials);
    const listener = createServer((socket) => injector.injectConnection(socket));
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(options, () => resolve());
    });
    this.listener = listener;
    return listener;
  }

  /** New calls UNAVAILABLE, in-flight appends and reads finished (up to timeoutMs), then the socket closed. */
  async close(timeoutMs: number): Promise<void> {
    this.appends.beginShutdown();
    this.owner.service.beginShutdown();
    const [appended, served] = await Promise.all([this.appends.drain(timeoutMs), this.owner.service.drain(timeoutMs)]);
    if (!appended || !served) this.logger.warn('forwarded calls did not finish in time');
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
