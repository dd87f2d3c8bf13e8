import type { Logger } from 'pino';
import { AggregatorRegistry, Registry } from 'prom-client';
import {
  cqlSecurity,
  partitionsOfWorker,
  workerOf,
  type BrokerConfig,
  type ColdStore,
  type Log,
  type LogReader,
  type LogWriter,
} from '../../core/index.js';
import { WorkerParts } from '../workers/worker-parts.js';
import { workerShareOf } from '../workers/worker-budgets.js';
import type { WorkerTopology } from '../workers/worker-topology.js';
import { reportLogHealth } from '../workers/worker-process.js';
import { listenOrTake, serveHealth } from './public-ports.js';
import {
  ensurePartitionLayout,
  logOptionsFromConfig,
  openLog,
  type PartitionedLog,
  type ReplicaSettings,
} from '../../log/index.js';
import { ColdTier, createTieredReader } from '../../tiering/index.js';
import { BrokerService } from '../grpc/broker-service.js';
import { BrokerMetrics } from '../metrics/broker-metrics.js';
import { startMetricsServer } from '../metrics/metrics-server.js';
import { registerServerGauges } from '../metrics/server-gauges.js';
import { startBackgroundJobs } from './background-jobs.js';
import { BrokerServer, type ConnectionLimits } from './broker-server.js';
import type { ForwardedCalls } from '../workers/owner-side.js';
import { ClusterParts, openClusterStores } from '../cluster/cluster-parts.js';
import { ColdTierStatus } from './cold-tier-status.js';
import { replicaStreamOptions } from './replica-stream-options.js';
import { connectionBudget, readFdLimit } from './fd-budget.js';
import type { CassandraColdStoreOptions } from '../../tiering/cassandra/index.js';
import { withDataLossLog } from './data-loss-log.js';
import { withStorageLimitLog } from './storage-limit-log.js';
import { LogWriteHealth, type ServingStatus } from './log-write-health.js';
import { createLogger } from './logger.js';
import { OpenedParts } from './opened-parts.js';
import { openAccess } from '../auth/open-access.js';
import { processTracing } from '../tracing/process-tracing.js';
import { tracedColdStore } from '../tracing/traced-cold-store.js';
import { openSecurity, type MemberSecurity, type TlsFiles } from '../security/security-parts.js';

/** Starts the background work on the broker's log (compaction, replication); resolves with how to stop it. */
export type BackgroundStarter = (deps: {
  config: BrokerConfig;
  log: Log;
  /** Absent: nothing is replicated. */
  coldStore?: ColdStore;
  registry: Registry;
  logger: Logger;
}) => Promise<{
  close(): Promise<void>;
  /** Replicates every sealed segment owed to the cold tier now (a cluster member's hand-over). */
  replicateOwedNow?(): Promise<number>;
}>;

/** What the composition takes from outside; tests inject these, production leaves them to the defaults. */
export interface BrokerDeps {
  /** @defaultValue a pino logger on stdout at BROKER_LOG_LEVEL */
  readonly logger?: Logger;
  /** The cold tier, owned by the caller. @defaultValue opened from SCYLLA_CONTACT_POINTS when set, else none */
  readonly coldStore?: ColdStore;
  /** @defaultValue startBackgroundJobs: compaction and replication, on BullMQ when REDIS_URL is set, else in process */
  readonly background?: BackgroundStarter;
  /** This process is one worker of several (BROKER_WORKERS > 1): its place, from the primary. @defaultValue none */
  readonly worker?: WorkerTopology;
}

export interface RunningBroker {
  readonly grpcPort: number;
  /** -1 when the metrics endpoint is off. */
  readonly metricsPort: number;
  readonly log: Log;
  readonly metrics: BrokerMetrics;
  /** A part of the broker says whether it can serve (gRPC health is SERVING only while every part can). */
  setServing(serving: boolean, part: string): void;
  /** Re-reads BROKER_AUTH_FILE (SIGHUP); false when it is unset or does not validate (the rules stay). */
  reloadAuth(): Promise<boolean>;
  /** Graceful shutdown: new calls UNAVAILABLE, streams ended, in-flight publishes finish, then the rest in reverse. */
  close(): Promise<void>;
}

/**
 * The composition root: every part of a serving broker is built here, in dependency order, and closed in the
 * reverse order. The write path is always the local log; the read path is decided here, not by a background hook.
 */
export async function startBroker(brokerConfig: BrokerConfig, deps: BrokerDeps = {}): Promise<RunningBroker> {
  // A worker of several enforces its share of the budgets that are totals for the broker (worker-budgets.ts).
  const config = workerShareOf(brokerConfig, deps.worker);
  const logger = deps.logger ?? createLogger(config.logLevel);
  const topology = deps.worker;
  const metrics = new BrokerMetrics(workerRegistry(topology));
  const opened = new OpenedParts(logger);
  try {
    const security = await openSecurity(config, logger, opened);
    const logHealth = new LogWriteHealth(logger);
    const observer = logHealth.observe(
      withStorageLimitLog(withDataLossLog(metrics.logObserver(), logger, config.acks), logger),
    );
    const member =
      config.cluster === undefined
        ? undefined
        : await openMember(config, config.cluster, { metrics, logger, topology, opened, security: security.members });
    const tierDeps = await withReplicaStore(config, deps, metrics.registry, logger, opened);
    const log = await openLog({
      ...logOptionsFromConfig(config, observer, processTracing()),
      ...(member?.logOptions() ?? ownedBy(topology)),
      ...replicaOptions(config, tierDeps.coldStore),
      ...replicaStreamOptions(config, tierDeps.coldStore, metrics.registry, logger),
    });
    opened.add('log', () => log.close());

    const parts = { log, metrics, logger, topology, opened };
    const { reader, jobs, coldTierStatus } = await openTiers(config, tierDeps, parts);
    const local = { writer: log, reader };
    const { service, forwarded, reloadAuth } = await buildService(config, { ...parts, local, member });
    // Metrics before gRPC, so they close after it: the drain of a shutdown can still be watched.
    // A worker's metrics are served by the primary, merged with the other workers'.
    const metricsPort = await serveMetrics(config, metrics, topology, opened, security.tls);
    const server = new BrokerServer(service, {
      maxBodyBytes: config.maxBodyBytes,
      connections: connectionLimits(config, log.maxOpenFiles, logger),
      maxResponseBytes: config.maxResponseBytes,
      maxStreamsPerConnection: config.maxStreamsPerConnection,
      shutdownTimeoutMs: config.shutdownTimeoutMs,
      logger,
      ...(forwarded === undefined ? {} : { forwarded }),
      ...security.serving,
    });
    registerServerGauges(metrics.registry, () => server.connections, config.dataDir);
    // Health follows the log from here on (NOT_SERVING while it refuses writes).
    logHealth.attach(topology === undefined ? server : toldToPrimaryToo(server));
    coldTierStatus?.attach(server);
    await serveHealth(config, server, opened, logger, topology);
    const grpcPort = await listenOrTake(config, server, topology);
    opened.add('gRPC server', () => server.close());
    // Closed before the gRPC server: a leaving member hands its partitions over while it still answers calls.
    if (member !== undefined) opened.add('cluster hand-over', () => member.handOver());
    // Partitions handed over on leaving are flushed to the cold tier first, so their next owner serves every id.
    await member?.start(grpcPort, () => jobs.replicateOwedNow?.() ?? Promise.resolve());

    logger.info(
      { grpcPort, metricsPort, dataDir: config.dataDir, fsync: config.fsync },
      topology === undefined ? 'listening' : 'worker listening',
    );
    const setServing = (serving: boolean, part: string): void => server.setServing(serving, part);
    return { grpcPort, metricsPort, log, metrics, setServing, reloadAuth, close: () => opened.closeAll() };
  } catch (err) {
    await opened.closeAll().catch(() => undefined);
    throw err;
  }
}

/** GET /metrics on BROKER_METRICS_PORT, unless off (-1) or this is a worker; resolves with the port (-1: none). */
async function serveMetrics(
  config: BrokerConfig,
  metrics: BrokerMetrics,
  topology: WorkerTopology | undefined,
  opened: OpenedParts,
  tls: TlsFiles | undefined,
): Promise<number> {
  if (config.metricsPort < 0 || topology !== undefined) return -1;
  const host = config.metricsHost ?? config.grpcHost;
  const metricsServer = await startMetricsServer(metrics.registry, host, config.metricsPort, tls);
  opened.add('metrics server', () => metricsServer.close());
  return metricsServer.port;
}

/**
 * The cold tier opens before the log, which writes every commit to it (acks replicated) or streams them behind the
 * acks (acks local), and is the one the tiers then use (closed after the log).
 */
async function withReplicaStore(
  config: BrokerConfig,
  deps: BrokerDeps,
  registry: Registry,
  logger: Logger,
  opened: OpenedParts,
): Promise<BrokerDeps> {
  if (deps.coldStore !== undefined) return deps;
  const coldStore = await openColdStore(config, registry, logger);
  if (coldStore === undefined) return deps;
  opened.add('cold store', () => coldStore.close());
  return { ...deps, coldStore };
}

function replicaOptions(config: BrokerConfig, coldStore: ColdStore | undefined): { replica?: ReplicaSettings } {
  if (config.acks !== 'replicated' || coldStore === undefined) return {};
  return { replica: { store: coldStore, retentionMs: config.retentionMs } };
}

/** The cold tier (when configured) behind the log, the reader over both, and the background jobs on them. */
async function openTiers(
  config: BrokerConfig,
  deps: BrokerDeps,
  parts: {
    log: PartitionedLog;
    metrics: BrokerMetrics;
    logger: Logger;
    topology: WorkerTopology | undefined;
    opened: OpenedParts;
  },
) {
  const { log, metrics, logger, topology, opened } = parts;
  const coldStore = deps.coldStore ?? (await openColdStore(config, metrics.registry, logger));
  if (deps.coldStore === undefined && coldStore !== undefined) opened.add('cold store', () => coldStore.close());
  // Scylla away does not stop the broker: the cold tier reports itself degraded and catches up when it is back.
  const coldTierStatus = coldStore instanceof ColdTier ? new ColdTierStatus(coldStore, metrics.registry) : undefined;
  const reader = coldStore === undefined ? log : createTieredReader(log, coldStore);

  const background = deps.background ?? startBackgroundJobs;
  const jobs = await background({
    // Each worker runs the jobs of its own partitions, on queues of its own.
    config: topology === undefined ? config : { ...config, brokerId: `${config.brokerId}-w${topology.index}` },
    log,
    ...(coldStore === undefined ? {} : { coldStore }),
    registry: metrics.registry,
    logger,
  });
  opened.add('background jobs', () => jobs.close());
  return { reader, jobs, coldTierStatus };
}

/**
 * The broker.Broker service over the log. A worker's goes through its routing (other workers' subjects are
 * forwarded), and its own endpoint for the other workers serves before the public port does; a cluster member's
 * goes through the cluster's routing, and its port also answers what other members forward.
 */
async function buildService(
  config: BrokerConfig,
  parts: {
    log: PartitionedLog;
    local: { writer: LogWriter; reader: LogReader };
    metrics: BrokerMetrics;
    logger: Logger;
    topology: WorkerTopology | undefined;
    member: ClusterParts | undefined;
    opened: OpenedParts;
  },
): Promise<{ service: BrokerService; forwarded?: ForwardedCalls; reloadAuth: () => Promise<boolean> }> {
  const { local, metrics, logger, topology, member, opened } = parts;
  // Only the public service checks callers: a forwarded call was checked by the broker the client called.
  const control = await openAccess(config, metrics.registry, logger);
  const access = control === undefined ? {} : { access: control };
  const reloadAuth = (): Promise<boolean> => control?.reload() ?? Promise.resolve(false);
  const serviceOptions = {
    retentionMs: config.retentionMs,
    maxBodyBytes: config.maxBodyBytes,
    maxSubscribers: config.maxSubscribers,
    maxResponseBytes: config.maxResponseBytes,
    subscriberBufferBytes: config.subscriberBufferBytes,
    maxInflightPublishBytes: config.maxInflightPublishBytes,
    logger,
  };
  if (member !== undefined) {
    const { routed, forwarded } = member.services(parts.log, local, serviceOptions);
    // Closed after the gRPC server (added before it): leaving hands the partitions over once calls have drained.
    opened.add('cluster membership', () => member.stop());
    return { service: new BrokerService({ ...serviceOptions, ...access, metrics, ...routed }), forwarded, reloadAuth };
  }
  if (topology === undefined) {
    return {
      service: new BrokerService({ ...serviceOptions, ...access, ...local, metrics, ownerName: config.brokerId }),
      reloadAuth,
    };
  }
  const workerParts = new WorkerParts(topology, local, serviceOptions, metrics.registry, logger);
  await workerParts.listen();
  opened.add('worker endpoint', () => workerParts.close(config.shutdownTimeoutMs));
  return { service: new BrokerService({ ...serviceOptions, ...access, metrics, ...workerParts.routed }), reloadAuth };
}

/**
 * A cluster member's parts (BROKER_CLUSTER): its stores on the CQL server, closed after the log. Each worker of a
 * broker with several is a member of its own.
 */
async function openMember(
  config: BrokerConfig,
  cluster: string,
  parts: {
    metrics: BrokerMetrics;
    logger: Logger;
    topology: WorkerTopology | undefined;
    opened: OpenedParts;
    security: MemberSecurity;
  },
): Promise<ClusterParts> {
  const { metrics, logger, topology, opened, security } = parts;
  const { partitions } = await ensurePartitionLayout(config.dataDir, config.partitions);
  const stores = await openClusterStores(config, cluster, partitions, logger);
  opened.add('cluster stores', () => stores.close());
  return new ClusterParts(config, stores, metrics.registry, logger, topology, security);
}

/** A worker's log health goes to the primary too, so every worker says NOT_SERVING when any log refuses writes. */
function toldToPrimaryToo(server: BrokerServer): ServingStatus {
  return {
    setServing: (serving) => {
      server.setServing(serving);
      reportLogHealth(serving);
    },
  };
}

/**
 * A worker's registry: every series labelled with the worker, and handed to prom-client's cluster support, which
 * answers the primary's requests for it (the primary serves /metrics for all workers).
 */
function workerRegistry(topology: WorkerTopology | undefined): Registry {
  const registry = new Registry();
  if (topology === undefined) return registry;
  registry.setDefaultLabels({ worker: String(topology.index) });
  AggregatorRegistry.setRegistries([registry]);
  // prom-client installs a worker's answering listener in the AggregatorRegistry constructor, and only there.
  new AggregatorRegistry();
  return registry;
}

/** The partitions a worker opens, and how it names their owners in NOT_OWNER; all of them for a single process. */
function ownedBy(topology: WorkerTopology | undefined) {
  if (topology === undefined) return {};
  return {
    owned: partitionsOfWorker(topology.index, topology.count, topology.partitions),
    ownerName: (partition: number) => topology.nameOf(workerOf(partition, topology.count)),
  };
}

/** The connection settings, BROKER_MAX_CONNECTIONS fitted to the descriptors LevelDB leaves (fd-budget.ts). */
function connectionLimits(config: BrokerConfig, levelDbFiles: number, logger: Logger): ConnectionLimits {
  // Every owned partition is a LevelDB of its own, with its own table cache and side files.
  const budget = { fdLimit: readFdLimit(), levelDbFiles };
  return {
    maxConnections: connectionBudget(config.maxConnections, budget, logger),
    handshakeTimeoutMs: config.handshakeTimeoutMs,
    maxConnectionIdleMs: config.maxConnectionIdleMs,
    maxConnectionAgeMs: config.maxConnectionAgeMs,
    maxConnectionAgeGraceMs: config.maxConnectionAgeGraceMs,
  };
}

/**
 * The Cassandra/ScyllaDB cold tier when SCYLLA_CONTACT_POINTS is set, else none; the caller closes it. It resolves
 * after the first attempt to connect, up or not (a ColdTier keeps connecting in the background); only a setting no
 * retry can fix rejects.
 */
export async function openColdStore(
  config: BrokerConfig,
  registry: Registry | undefined,
  logger: Logger,
): Promise<ColdTier | undefined> {
  if (config.scyllaContactPoints.length === 0) return undefined;
  // Loaded only now: cassandra-driver adds resident code a broker on embedded defaults never uses.
  const { openCassandraColdStore } = await import('../../tiering/cassandra/index.js');
  const open = async (): Promise<ColdStore> =>
    tracedColdStore(await openCassandraColdStore(cassandraOptions(config, registry, logger)), processTracing());
  const tier = new ColdTier({ open, logger });
  await tier.firstAttempt.catch(async (err: unknown) => {
    await tier.close();
    throw err;
  });
  return tier;
}

function cassandraOptions(
  config: BrokerConfig,
  registry: Registry | undefined,
  logger: Logger,
): CassandraColdStoreOptions {
  return {
    contactPoints: config.scyllaContactPoints,
    localDataCenter: config.scyllaLocalDc,
    security: cqlSecurity(config),
    keyspace: config.scyllaKeyspace,
    replicationFactor: config.scyllaReplicationFactor,
    replication: config.scyllaReplication,
    consistency: config.scyllaConsistency,
    concurrency: config.replicationConcurrency,
    ...(registry === undefined ? {} : { registry }),
    logger,
  };
}
