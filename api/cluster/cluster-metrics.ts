import { Counter, Gauge, type Registry } from 'prom-client';

/** What a member's lease keeper sees, read at each scrape (undefined before it has joined). */
export interface OwnershipSnapshot {
  /** Partitions this member holds. */
  readonly held: number;
  /** Partitions with no live owner as the last round saw them: unowned, or owned by a member whose heartbeat lapsed. */
  readonly unowned: number;
}

/** A cluster member's figures: partitions held and moved, partitions nobody serves, failed ownership-store calls. */
export class ClusterMetrics {
  readonly moves: Counter<'event'>;
  readonly storeErrors: Counter;

  constructor(registry: Registry, snapshot: () => OwnershipSnapshot | undefined) {
    const registers = [registry];
    this.moves = new Counter({
      name: 'broker_partition_moves_total',
      help: 'partitions this member acquired or lost (handed over, taken by another member, or dropped at stop)',
      labelNames: ['event'],
      registers,
    });
    this.storeErrors = new Counter({
      name: 'broker_ownership_store_errors_total',
      help: 'failed calls to the ownership store (heartbeat, claim, lease renewal, release); leases lapse if they go on',
      registers,
    });
    new Gauge({
      name: 'broker_partitions_owned',
      help: 'partitions this member holds a lease on',
      registers,
      collect() {
        this.set(snapshot()?.held ?? 0);
      },
    });
    new Gauge({
      name: 'broker_partitions_unowned',
      help: "partitions with no live owner as this member's last lease round saw them (served by nobody meanwhile)",
      registers,
      collect() {
        this.set(snapshot()?.unowned ?? 0);
      },
    });
  }
}
