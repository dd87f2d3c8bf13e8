import { Counter, type Registry } from 'prom-client';

/**
 * A worker's own figures. Every series of a worker carries its `worker` label (the registry's default label), so
 * the primary's /metrics shows them side by side; these add what only a worker among several has.
 */
export class WorkerMetrics {
  readonly forwardedCalls: Counter<'method' | 'to'>;
  readonly forwardedPublishes: Counter<'to'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.forwardedCalls = new Counter({
      name: 'broker_forwarded_calls_total',
      help: 'calls this worker forwarded whole to the worker owning their subject (reads and PublishBatch), by method and owner',
      labelNames: ['method', 'to'],
      registers,
    });
    this.forwardedPublishes = new Counter({
      name: 'broker_forwarded_publishes_total',
      help: 'publishes this worker forwarded to the worker owning their subject, in batches, by owner',
      labelNames: ['to'],
      registers,
    });
  }
}
