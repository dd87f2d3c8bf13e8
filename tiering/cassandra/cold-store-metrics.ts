import { Counter, Histogram, type Registry } from 'prom-client';

/**
 * The cold store's Prometheus figures. A second store on the same registry (a test, a worker reopening its store)
 * shares the metrics already registered instead of failing on a duplicate name.
 */
export class ColdStoreMetrics {
  readonly writeSeconds: Histogram | undefined;
  readonly rowsWritten: Counter | undefined;
  readonly bytesWritten: Counter | undefined;

  constructor(registry: Registry | undefined) {
    if (registry === undefined) return;
    const registers = [registry];
    this.writeSeconds =
      (registry.getSingleMetric('broker_scylla_write_seconds') as Histogram | undefined) ??
      new Histogram({
        name: 'broker_scylla_write_seconds',
        help: 'latency of one row write to the cold tier (ScyllaDB/Cassandra), seconds',
        buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
        registers,
      });
    this.rowsWritten =
      (registry.getSingleMetric('broker_scylla_rows_written_total') as Counter | undefined) ??
      new Counter({
        name: 'broker_scylla_rows_written_total',
        help: 'record rows written to the cold tier',
        registers,
      });
    this.bytesWritten =
      (registry.getSingleMetric('broker_scylla_bytes_written_total') as Counter | undefined) ??
      new Counter({
        name: 'broker_scylla_bytes_written_total',
        help: 'body bytes written to the cold tier',
        registers,
      });
  }

  rowWritten(seconds: number, bytes: number): void {
    this.writeSeconds?.observe(seconds);
    this.rowsWritten?.inc();
    this.bytesWritten?.inc(bytes);
  }
}
