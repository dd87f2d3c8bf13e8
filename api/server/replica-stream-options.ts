import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import type { BrokerConfig, ColdStore } from '../../core/index.js';
import { ReplicationLagBoard, type ReplicaStreamSettings } from '../../log/index.js';

/**
 * BROKER_ACKS=local with a cold tier (README "Ack modes"): every partition's log streams its acknowledged records to
 * the cold tier behind the acks (log/replica-stream.ts). The queue's byte bound is BROKER_TAIL_CACHE_BYTES, split over
 * the partitions (the queued records are the objects the tail caches hold, so at most that much more is pinned).
 * The lag is exported as gauges and an outage is logged once for all partitions: at its start and at its end.
 */
export function replicaStreamOptions(
  config: BrokerConfig,
  coldStore: ColdStore | undefined,
  registry: Registry,
  logger: Logger,
): { replicaStream?: ReplicaStreamSettings } {
  if (config.acks !== 'local' || coldStore === undefined) return {};
  const board = new ReplicationLagBoard();
  registerReplicationLagGauges(registry, board);
  return {
    replicaStream: {
      store: coldStore,
      retentionMs: config.retentionMs,
      maxQueuedBytes: config.tailCacheBytes,
      maxLagMs: config.maxReplicationLagMs,
      board,
      onOutage: outageLog(logger),
    },
  };
}

/** Each partition's stream reports its own outage: logged when the first goes down and when the last is back. */
function outageLog(logger: Logger): (err: Error | undefined) => void {
  let down = 0;
  return (err) => {
    if (err !== undefined) {
      down += 1;
      if (down === 1) logger.error({ err }, 'streaming acknowledged records to the cold tier failed: retrying');
    } else if (down > 0) {
      down -= 1;
      if (down === 0) logger.info('streaming acknowledged records to the cold tier again');
    }
  };
}

/**
 * broker_replication_lag_records and broker_replication_lag_seconds, read at scrape time. With workers the primary
 * serves one series per worker (label worker), as every metric; series of one label set add up / take the largest.
 */
export function registerReplicationLagGauges(registry: Registry, board: ReplicationLagBoard): void {
  new Gauge({
    name: 'broker_replication_lag_records',
    help: 'records acknowledged locally (acks local) and not yet in the cold tier: what a lost disk would lose',
    registers: [registry],
    aggregator: 'sum',
    collect() {
      this.set(board.lag().records);
    },
  });
  new Gauge({
    name: 'broker_replication_lag_seconds',
    help: 'age of the oldest record acknowledged locally (acks local) and not yet in the cold tier; 0 when none',
    registers: [registry],
    aggregator: 'max',
    collect() {
      const oldest = board.lag().oldestAtMs;
      this.set(oldest === undefined ? 0 : Math.max(0, (Date.now() - oldest) / 1000));
    },
  });
}
