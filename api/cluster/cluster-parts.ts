import { credentials } from '@grpc/grpc-js';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import {
  cqlSecurity,
  type BrokerConfig,
  type IdReservations,
  type LogReader,
  type LogWriter,
  type OwnershipStore,
} from '../../core/index.js';
import { LeaseKeeper } from '../../cluster/index.js';
import type { PartitionedLog, PartitionedLogOptions } from '../../log/index.js';
import type { BrokerServiceOptions } from '../grpc/broker-service.js';
import { ownerSide, type ForwardedCalls } from '../workers/owner-side.js';
import { WorkerRouting } from '../workers/routing-log.js';
import { UpstreamHub } from '../workers/upstream-hub.js';
import type { RoutedServiceOptions } from '../workers/worker-parts.js';
import type { WorkerTopology } from '../workers/worker-topology.js';
import { ClusterMetrics, type OwnershipSnapshot } from './cluster-metrics.js';
import { ClusterOwners, type OwnershipView } from './cluster-owners.js';
import { WorkerPeerEndpoint } from './worker-member.js';
import { ClusterToken } from '../security/cluster-token.js';
import type { MemberSecurity } from '../security/security-parts.js';

/** The cluster's tables on the CQL server: who owns which partition, and the ids reserved ahead of each subject. */
export interface ClusterStores {
  readonly ownership: OwnershipStore;
  readonly reservations: IdReservations & { close(): Promise<void> };
  close(): Promise<void>;
}

/** Opens the cluster's stores (BROKER_CLUSTER set), loading cassandra-driver only now. */
export async function openClusterStores(
  config: BrokerConfig,
  cluster: string,
  partitions: number,
  logger: Logger,
): Promise<ClusterStores> {
  const { CassandraOwnershipStore, openCassandraIdReservations } = await import('../../cluster/cassandra/index.js');
  const common = {
    contactPoints: config.scyllaContactPoints,
    localDataCenter: config.scyllaLocalDc,
    security: cqlSecurity(config),
    keyspace: config.scyllaKeyspace,
    replicationFactor: config.scyllaReplicationFactor,
    replication: config.scyllaReplication,
    cluster,
    consistency: config.scyllaConsistency,
    logger,
  };
  const ownership = await CassandraOwnershipStore.open({ ...common, partitions });
  const reservations = await openCassandraIdReservations(common).catch(async (err: unknown) => {
    await ownership.close();
    throw err;
  });
  return {
    ownership,
    reservations,
    close: async () => {
      await reservations.close();
      await ownership.close();
    },
  };
}

/**
 * Whether this member still holds the partition it hands over with its lease safely ahead of its end (as
 * canAppend() reckons it, which is false during a hand-over): what settling its id reservations needs.
 */
function holdsSafely(keeper: LeaseKeeper, partition: number, config: BrokerConfig): boolean {
  // Asked before every group commit's write (LogOptions.writeGate), so one lookup, not held()'s sorted copy.
  const safetyMs = Math.floor(config.leaseMs / 10);
  return Date.now() < keeper.leaseUntilOf(partition) - config.maxClockDriftMs - safetyMs;
}

/**
 * What makes this broker a member of a cluster (issue 13): its log opens no partition by itself; the lease keeper
 * claims the partitions rendezvous placement gives this member (each with a fenced, time-bounded lease), the log
 * acquires them as they come and releases them when handed over; calls for other members' partitions are forwarded
 * to them whole (publishes batched), and subscribers of their subjects share one upstream subscription per subject.
 * A broker of several workers (BROKER_WORKERS > 1) is several members, one per worker (`<BROKER_ID>/w<i>`), each
 * with its own lease keeper and its own peer port (worker-member.ts; cluster/README.md, "Workers").
 */
export class ClusterParts {
  private keeper: LeaseKeeper | undefined;
  /** This member's id in the ownership rows and its name as an owner: BROKER_ID, or `<BROKER_ID>/w<i>`. */
  readonly memberId: string;
  /** A worker's own port for the calls other members forward to it (the workers share the public port). */
  private peerEndpoint: WorkerPeerEndpoint | undefined;
  private readonly owners: ClusterOwners;
  private readonly hub: UpstreamHub;
  private readonly metrics: ClusterMetrics;

  constructor(
    private readonly config: BrokerConfig,
    private readonly stores: ClusterStores,
    registry: Registry,
    private readonly logger: Logger,
    /** This process is one worker of several: a member of its own. */
    private readonly worker?: WorkerTopology,
    /** TLS and the cluster token towards the other members. @defaultValue the token alone, plaintext */
    private readonly security: MemberSecurity = plaintextMember(config),
  ) {
    this.memberId = worker === undefined ? config.brokerId : worker.nameOf(worker.index);
    const view: OwnershipView = {
      memberId: this.memberId,
      ownerOf: (p) => this.keeper?.ownerOf(p),
      members: () => this.keeper?.members() ?? [],
      placedOn: (p) => this.keeper?.placedOn(p),
      refresh: () => this.keeper?.refresh() ?? Promise.resolve(),
      // A graceful hand-over takes a fraction of this; a crashed owner's partitions move after lease + drift +
      // a round, so a call held for a lease may still find nobody, and the client retries as before.
      handoverWaitMs: config.leaseMs,
      maxClockDriftMs: config.maxClockDriftMs,
    };
    // Members send the cluster token the others require of calls marked forwarded (api/security/cluster-token.ts),
    // over TLS when the broker serves TLS.
    const log = { partitionOf: (s: string) => this.log().partitionOf(s), owns: (s: string) => this.log().owns(s) };
    const { channel, interceptors } = security;
    this.owners = new ClusterOwners(view, log, undefined, { credentials: channel, interceptors });
    this.hub = new UpstreamHub((subject) => this.ownerClient(subject), { registry, logger });
    this.metrics = new ClusterMetrics(registry, () => this.ownership());
  }

  private opened: PartitionedLog | undefined;

  /** The log options of a member: no partition at open, id reservations, the lease as append gate. */
  logOptions(): Pick<
    PartitionedLogOptions,
    'owned' | 'idReservations' | 'appendGate' | 'leaseGate' | 'ownerName' | 'onFenced'
  > {
    return {
      owned: [],
      idReservations: this.stores.reservations,
      // A newer owner fenced the partition's reservations (this member was paused past its lease, or its clock ran
      // beyond the drift bound): the log refused the appends and gave the partition up; the keeper learns it now.
      onFenced: (err) => {
        this.logger.warn({ err, partition: err.partition }, 'fenced off a partition by a newer owner; giving it up');
        this.keeper?.refresh().catch((e: unknown) => this.logger.warn({ err: e }, 'lease keeper round failed'));
      },
      appendGate: (p) => this.keeper?.canAppend(p) ?? false,
      // Asked again as a batch is written: appends admitted under the lease may wait past it (a paused process).
      leaseGate: (p) => this.keeper !== undefined && holdsSafely(this.keeper, p, this.config),
      ownerName: (p) => {
        // Asked to append or read a partition it does not serve: a call forwarded here because placement gives
        // it this member (the owner left or released it), so a round now claims it instead of at the next timed one.
        if (this.keeper?.canAppend(p) !== true)
          // Only a throwing event listener rejects a round (store failures are reported inside it).
          this.keeper?.refresh().catch((err: unknown) => this.logger.warn({ err }, 'lease keeper round failed'));
        return this.keeper?.ownerOf(p)?.member ?? 'nobody yet';
      },
    };
  }

  /** The routed service options, and what the public server serves to other members' forwarded calls. */
  services(
    log: PartitionedLog,
    local: { writer: LogWriter; reader: LogReader },
    service: Omit<BrokerServiceOptions, keyof RoutedServiceOptions | 'metrics'>,
  ): { routed: RoutedServiceOptions; forwarded: ForwardedCalls } {
    this.opened = log;
    const routing = new WorkerRouting(this.owners, local, this.hub);
    const ownerName = this.memberId;
    const forwarded = ownerSide(local, service, ownerName, this.logger);
    if (this.worker !== undefined) {
      this.peerEndpoint = new WorkerPeerEndpoint(this.worker, forwarded, this.logger, this.security.port);
    }
    return { routed: { writer: routing, reader: routing, router: routing, ownerName }, forwarded };
  }

  /**
   * Joins the cluster at `grpcPort` (the advertise address's default port): one round at once (so the partitions
   * placed here are claimed before the broker says it listens), then a round every third of the lease.
   */
  async start(grpcPort: number, flush: () => Promise<unknown>): Promise<void> {
    const log = this.log();
    const advertised = this.config.advertiseAddress ?? `${advertisedHost(this.config.grpcHost)}:${grpcPort}`;
    // A worker is reached at its own peer port, with the host the broker advertises.
    const address = (await this.peerEndpoint?.listen(this.config, advertised)) ?? advertised;
    const keeper = new LeaseKeeper({
      store: this.stores.ownership,
      member: { id: this.memberId, address, startedAtMs: Date.now() },
      partitions: log.partitions,
      leaseMs: this.config.leaseMs,
      maxClockDriftMs: this.config.maxClockDriftMs,
      logger: this.logger,
      // A hand-over seals the partition's open segments and replicates them, so the next owner serves every id;
      // the release settles the id reservations to the heads while the lease is held, so the ids continue densely.
      handOver: async (p) => {
        const began = performance.now();
        await log.sealPartition(p);
        const sealed = performance.now();
        await flush();
        const flushed = performance.now();
        await log.release(p, {
          settleWhile: () => holdsSafely(keeper, p, this.config),
          onSettleError: (err) =>
            this.logger.warn({ err, partition: p }, 'id reservations not settled: the next owner skips to them'),
        });
        const ms = (from: number, to: number) => Math.round(to - from);
        const took = {
          sealMs: ms(began, sealed),
          flushMs: ms(sealed, flushed),
          closeMs: ms(flushed, performance.now()),
        };
        this.logger.info({ partition: p, ...took }, 'partition handed over; releasing it');
      },
    });
    keeper.on('acquired', (p, epoch, released) => {
      this.metrics.moves.inc({ event: 'acquired' });
      this.logger.info({ partition: p, epoch, released }, 'partition acquired');
      log
        .acquire(p, { handedOver: released, epoch })
        .catch((err: unknown) => this.logger.error({ err, partition: p }, 'partition failed to open'));
    });
    keeper.on('lost', (p, epoch, reason) => {
      this.metrics.moves.inc({ event: reason });
      this.logger.warn({ partition: p, epoch, reason }, 'partition lost');
      void log.release(p);
    });
    keeper.on('storeError', (err) => {
      this.metrics.storeErrors.inc();
      this.logger.warn({ err }, 'ownership store call failed');
    });
    this.keeper = keeper;
    await keeper.tick();
    keeper.start();
    this.logger.info({ member: this.memberId, address, held: keeper.held().length }, 'joined the cluster');
  }

  private leaving: Promise<void> | undefined;

  /**
   * The first step of a shutdown, while the gRPC server still serves (compose.ts closes this before it): leaves
   * the membership and hands every partition over, so the next owners claim while calls forwarded here are still
   * answered NOT_OWNER (their forwarders hold them for the next owner) instead of finding the port closed.
   */
  handOver(): Promise<void> {
    this.leaving ??= this.keeper?.stop({ handOver: true }) ?? Promise.resolve();
    return this.leaving;
  }

  /**
   * Leaves the cluster: hands every partition over (flushed to the cold tier), then closes the channels, and a
   * worker's peer port last (calls other members forwarded before they saw the new owners still finish).
   */
  async stop(): Promise<void> {
    await this.handOver();
    this.hub.close();
    this.owners.close();
    await this.peerEndpoint?.close(this.config.shutdownTimeoutMs);
  }

  private ownership(): OwnershipSnapshot | undefined {
    const keeper = this.keeper;
    if (keeper === undefined || this.opened === undefined) return undefined;
    let unowned = 0;
    for (let p = 0; p < this.opened.partitions; p++) if (keeper.ownerOf(p)?.address === undefined) unowned += 1;
    return { held: keeper.held().length, unowned };
  }

  private log(): PartitionedLog {
    if (this.opened === undefined) throw new Error('the cluster parts have no log yet');
    return this.opened;
  }

  private ownerClient(subject: string) {
    return this.owners.serving(subject).client;
  }
}

/** A member of a broker without TLS: plaintext channels, with the cluster token when one is set. */
function plaintextMember(config: BrokerConfig): MemberSecurity {
  const clusterToken = ClusterToken.fromConfig(config);
  return {
    channel: credentials.createInsecure(),
    interceptors: clusterToken === undefined ? [] : [clusterToken.interceptor()],
    port: { ...(clusterToken === undefined ? {} : { clusterToken }), handshakeTimeoutMs: config.handshakeTimeoutMs },
  };
}

/** The host other members reach this one by: the bound host, or this machine's name when it binds every address. */
function advertisedHost(grpcHost: string): string {
  return grpcHost === '0.0.0.0' || grpcHost === '::' ? hostname() : grpcHost;
}
