import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { LogReader, LogWriter } from '../../core/index.js';
import type { BrokerServiceOptions } from '../grpc/broker-service.js';
import { InternalEndpoint } from './internal-endpoint.js';
import { ownerSide } from './owner-side.js';
import { WorkerOwners } from './owners.js';
import { WorkerRouting } from './routing-log.js';
import { UpstreamHub } from './upstream-hub.js';
import { WorkerMetrics } from './worker-metrics.js';
import { WorkerPeer } from './worker-peer.js';
import type { WorkerTopology } from './worker-topology.js';

/** The service options a worker changes: where calls go, and the owner it names. */
export type RoutedServiceOptions = Pick<BrokerServiceOptions, 'writer' | 'reader' | 'router' | 'ownerName'>;

/**
 * What makes one process a worker among several: a peer per other worker (its socket, its publish forwarder), the
 * upstream hub for subscribers of their subjects, the routing the public service goes through, and this worker's
 * own endpoint for the others. Built by the composition root (compose.ts) when BROKER_WORKERS > 1.
 */
export class WorkerParts {
  readonly routed: RoutedServiceOptions;
  private readonly peers: Array<WorkerPeer | undefined>;
  private readonly hub: UpstreamHub;
  private readonly endpoint: InternalEndpoint;

  constructor(
    private readonly topology: WorkerTopology,
    local: { writer: LogWriter; reader: LogReader },
    service: Omit<BrokerServiceOptions, keyof RoutedServiceOptions | 'metrics'>,
    registry: Registry,
    logger: Logger,
  ) {
    const metrics = new WorkerMetrics(registry);
    this.peers = Array.from({ length: topology.count }, (_, i) =>
      i === topology.index
        ? undefined
        : new WorkerPeer(topology.nameOf(i), `unix:${topology.socketOf(i)}`, {
            onCall: (method) => metrics.forwardedCalls.inc({ method, to: String(i) }),
            forwarder: { onBatch: (records) => metrics.forwardedPublishes.inc({ to: String(i) }, records) },
          }),
    );
    this.hub = new UpstreamHub((subject) => this.peer(topology.ownerOf(subject)).client, { registry, logger });
    const routing = new WorkerRouting(new WorkerOwners(topology, this.peers), local, this.hub);
    const ownerName = topology.nameOf(topology.index);
    this.routed = { writer: routing, reader: routing, router: routing, ownerName };
    this.endpoint = new InternalEndpoint(ownerSide(local, service, ownerName, logger), logger);
  }

  /** Serves this worker's socket; before the public port, so a call forwarded here never finds it missing. */
  listen(): Promise<void> {
    return this.endpoint.listen(this.topology.socketOf(this.topology.index));
  }

  /** After the public server has drained: the calls other workers forward while they drain still finish here. */
  async close(timeoutMs: number): Promise<void> {
    await this.endpoint.close(timeoutMs);
    this.hub.close();
    for (const peer of this.peers) peer?.close();
  }

  private peer(worker: number): WorkerPeer {
    const peer = this.peers[worker];
    if (peer === undefined) throw new Error(`worker ${worker} is this one: its subjects are not forwarded`);
    return peer;
  }
}
