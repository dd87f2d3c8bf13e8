import type { Logger } from 'pino';
import { ConfigError, type BrokerConfig } from '../../core/index.js';
import { InternalEndpoint, type PeerPortSecurity } from '../workers/internal-endpoint.js';
import type { ForwardedCalls } from '../workers/owner-side.js';
import type { WorkerTopology } from '../workers/worker-topology.js';

/**
 * The port of one worker of a cluster member with several (BROKER_WORKERS > 1), on which the other members reach
 * this worker alone with the calls they forward to it: node:cluster hands the public port's connections to any
 * worker, and a forwarded call must reach the partition's owner. It serves the owner side (this worker's own
 * partitions, and batched Appends), like a single-process member's public port does for marked calls. Only members
 * call it: with TLS it requires their certificates (of BROKER_TLS_PEER_CA), with a cluster token the token.
 */
export class WorkerPeerEndpoint {
  private readonly endpoint: InternalEndpoint;

  constructor(
    private readonly worker: WorkerTopology,
    owner: ForwardedCalls,
    logger: Logger,
    /** With TLS, a certificate of the peer CA required of every caller; with a cluster token, the token. */
    security: PeerPortSecurity = {},
  ) {
    this.endpoint = new InternalEndpoint(owner, logger, security);
  }

  /**
   * Listens on BROKER_PEER_PORT + the worker's index (any free port when 0) on the gRPC host, and resolves with the
   * address to advertise: the advertised address's host with this port.
   */
  async listen(config: Pick<BrokerConfig, 'grpcHost' | 'peerPort'>, advertised: string): Promise<string> {
    const port = config.peerPort === 0 ? 0 : config.peerPort + this.worker.index;
    const bound = await this.endpoint.listenTcp(config.grpcHost, port).catch((err: unknown) => {
      throw new ConfigError(
        'BROKER_PEER_PORT',
        `worker ${this.worker.index} cannot listen on ${config.grpcHost}:${port} (${String(err)})`,
        { cause: err },
      );
    });
    return `${advertised.slice(0, advertised.lastIndexOf(':'))}:${bound}`;
  }

  close(timeoutMs: number): Promise<void> {
    return this.endpoint.close(timeoutMs);
  }
}
