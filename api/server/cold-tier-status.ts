import { Gauge, type Registry } from 'prom-client';
import type { ColdTier } from '../../tiering/index.js';

/** The grpc.health.v1 service name that reports the cold tier: NOT_SERVING while it is unreachable. */
export const COLD_TIER_HEALTH_SERVICE = 'broker.ColdTier';

/** Where the cold tier's state is shown besides the log (ColdTier logs its own transitions). */
export interface ColdTierHealthTarget {
  setSubServiceServing(service: string, serving: boolean): void;
}

/**
 * Shows the cold tier's state as `broker_cold_tier_up` (1 up, 0 unreachable) from now on, and on the gRPC health
 * sub-service once `attach` is given the server: a degraded cold tier does not take the broker out of rotation (the
 * local log serves), so it has its own service name, not the broker's.
 */
export class ColdTierStatus {
  private readonly gauge: Gauge;

  constructor(
    private readonly tier: ColdTier,
    registry: Registry,
  ) {
    this.gauge = new Gauge({
      name: 'broker_cold_tier_up',
      help: 'whether the cold tier (Scylla) answers: 1 up, 0 unreachable (replication waits, cold-only reads UNAVAILABLE)',
      registers: [registry],
    });
    tier.onChange((up) => this.gauge.set(up ? 1 : 0));
  }

  attach(server: ColdTierHealthTarget): void {
    this.tier.onChange((up) => server.setSubServiceServing(COLD_TIER_HEALTH_SERVICE, up));
  }
}
