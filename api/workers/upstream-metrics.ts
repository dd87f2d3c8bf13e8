import { Counter, Gauge, type Registry } from 'prom-client';

/** The upstream hub's figures: how many subjects this worker receives from other workers, and how often it resumed. */
export class UpstreamMetrics {
  readonly subscriptions: Gauge;
  readonly reconnects: Counter;

  /** Without a registry the metrics count but are exported nowhere (tests, a hub nobody scrapes). */
  constructor(registry?: Registry) {
    const registers = registry === undefined ? [] : [registry];
    this.subscriptions = new Gauge({
      name: 'broker_upstream_subscriptions',
      help: 'subjects this worker receives over one shared Subscribe stream from the worker that owns them',
      registers,
    });
    this.reconnects = new Counter({
      name: 'broker_upstream_reconnects_total',
      help: 'upstream Subscribe streams reopened after the owning worker went away (resumed at the next id)',
      registers,
    });
  }
}
