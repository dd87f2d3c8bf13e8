import { Counter, Gauge, type Registry } from 'prom-client';

/** What a compaction pass reports (the fields of retention's CompactionResult that are counted). */
export interface CompactedCounts {
  readonly segmentsExpired: number;
  readonly segmentsDroppedLocally: number;
  readonly segmentsTrimmed: number;
  readonly recordsDeleted: number;
  readonly bytesDeleted: number;
}

/** Metrics of the background jobs, in the broker's registry (or in none: tests). Write latency is the cold store's. */
export class JobMetrics {
  /** broker_jobs_total{task, outcome}: job runs (compaction, replication, sweep) that ended ok or failed. */
  readonly runs: Counter<'task' | 'outcome'>;
  readonly retries: Counter<'task'>;
  readonly deadLettered: Counter<'task'>;
  /** Jobs in the dead-letter state now (failed every attempt, waiting for a sweep to re-drive them). */
  readonly deadLetters: Gauge<'task'>;
  readonly segmentsCompacted: Counter<'kind'>;
  readonly recordsCompacted: Counter;
  readonly bytesCompacted: Counter;
  readonly segmentsReplicated: Counter;
  readonly bytesReplicated: Counter;
  private readonly lagGauge: Gauge;
  private lag = 0;

  constructor(registry?: Registry) {
    const registers = registry === undefined ? [] : [registry];
    this.runs = new Counter({
      name: 'broker_jobs_total',
      help: 'background job runs by job and outcome (ok, failed)',
      labelNames: ['task', 'outcome'],
      registers,
    });
    this.retries = new Counter({
      name: 'broker_job_retries_total',
      help: 'background job attempts that were retries',
      labelNames: ['task'],
      registers,
    });
    this.deadLettered = new Counter({
      name: 'broker_jobs_dead_lettered_total',
      help: 'jobs that failed every attempt (re-driven by the next sweep)',
      labelNames: ['task'],
      registers,
    });
    this.deadLetters = new Gauge({
      name: 'broker_jobs_dead_letter',
      help: 'jobs in the dead-letter state now',
      labelNames: ['task'],
      registers,
    });
    this.segmentsCompacted = new Counter({
      name: 'broker_segments_compacted_total',
      help: 'segments compacted: deleted whole (expired), dropped locally (local_retention) or trimmed of expired records',
      labelNames: ['kind'],
      registers,
    });
    this.recordsCompacted = new Counter({
      name: 'broker_records_compacted_total',
      help: 'records deleted by compaction',
      registers,
    });
    this.bytesCompacted = new Counter({
      name: 'broker_bytes_compacted_total',
      help: 'body bytes deleted by compaction',
      registers,
    });
    this.segmentsReplicated = new Counter({
      name: 'broker_segments_replicated_total',
      help: 'sealed segments copied to the cold tier',
      registers,
    });
    this.bytesReplicated = new Counter({
      name: 'broker_bytes_replicated_total',
      help: 'body bytes copied to the cold tier',
      registers,
    });
    this.lagGauge = new Gauge({
      name: 'broker_replication_lag_segments',
      help: 'sealed segments not yet replicated (exact at each sweep, followed between sweeps)',
      registers,
    });
  }

  /** Counts one compaction pass (the retention module's observer: structurally its CompactionObserver). */
  compacted(result: CompactedCounts): void {
    this.segmentsCompacted.inc({ kind: 'expired' }, result.segmentsExpired);
    this.segmentsCompacted.inc({ kind: 'local_retention' }, result.segmentsDroppedLocally);
    this.segmentsCompacted.inc({ kind: 'trimmed' }, result.segmentsTrimmed);
    this.recordsCompacted.inc(result.recordsDeleted);
    this.bytesCompacted.inc(result.bytesDeleted);
  }

  /** Replication lag: set by a sweep, raised by a seal, lowered by a completed copy. */
  setLag(segments: number): void {
    this.lag = segments;
    this.lagGauge.set(segments);
  }

  addLag(delta: number): void {
    this.setLag(Math.max(0, this.lag + delta));
  }

  get replicationLag(): number {
    return this.lag;
  }

  /** A completed copy (tiering's ReplicationObserver): one segment and its bytes replicated, one fewer owed. */
  segmentReplicated(bytes: number): void {
    this.segmentsReplicated.inc();
    this.bytesReplicated.inc(bytes);
    this.addLag(-1);
  }
}
