import { Counter, Gauge, type Registry } from 'prom-client';

/** Metrics of the background jobs, in the broker's registry (or a private one). */
export class JobMetrics {
  readonly runs: Counter<'job' | 'outcome'>;
  readonly retries: Counter<'job'>;
  readonly deadLettered: Counter<'job'>;
  readonly segmentsCompacted: Counter<'kind'>;
  readonly recordsCompacted: Counter;
  readonly bytesCompacted: Counter;
  readonly segmentsReplicated: Counter;
  readonly bytesReplicated: Counter;
  readonly replicationLag: Gauge;

  constructor(registry?: Registry) {
    const registers = registry === undefined ? [] : [registry];
    this.runs = new Counter({ name: 'broker_jobs_total', help: 'background job runs by job and outcome (ok, failed)', labelNames: ['job', 'outcome'], registers });
    this.retries = new Counter({ name: 'broker_job_retries_total', help: 'background job attempts that were retries', labelNames: ['job'], registers });
    this.deadLettered = new Counter({ name: 'broker_jobs_dead_lettered_total', help: 'jobs that failed every attempt (re-driven by the next sweep)', labelNames: ['job'], registers });
    this.segmentsCompacted = new Counter({ name: 'broker_segments_compacted_total', help: 'segments deleted whole (expired) or dropped locally (local retention)', labelNames: ['kind'], registers });
    this.recordsCompacted = new Counter({ name: 'broker_records_compacted_total', help: 'records deleted by compaction', registers });
    this.bytesCompacted = new Counter({ name: 'broker_bytes_compacted_total', help: 'body bytes deleted by compaction', registers });
    this.segmentsReplicated = new Counter({ name: 'broker_segments_replicated_total', help: 'sealed segments copied to the cold tier', registers });
    this.bytesReplicated = new Counter({ name: 'broker_bytes_replicated_total', help: 'body bytes copied to the cold tier', registers });
    this.replicationLag = new Gauge({ name: 'broker_replication_lag_segments', help: 'sealed segments not yet replicated (at the last sweep)', registers });
  }
}
