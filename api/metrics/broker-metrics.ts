import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { BrokerError, type LogObserver } from '../../core/index.js';

const LOG_FAILED_HELP = '1 while the log refuses writes after a failed write (until it has recovered), else 0';
const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * The broker's Prometheus metrics, on a registry of its own (injected, never the global default), so several
 * brokers in one process (tests) do not share counters. Histograms, not summaries: they aggregate across pods.
 */
export class BrokerMetrics {
  readonly methodCount: Counter<'method' | 'success'>;
  readonly methodDuration: Histogram<'method'>;
  readonly activeSubscribers: Gauge;
  readonly subscriberLag: Histogram;
  readonly messagesDelivered: Counter;
  /** Failed calls by method and error reason (REASONS: a bounded set), what an operator pages on. */
  readonly errors: Counter<'method' | 'reason'>;
  /** The log's own figures, fed by its observer. */
  readonly log: LogMetrics;
  private readonly methodLabels = new Map<string, MethodLabels>();

  constructor(readonly registry: Registry = new Registry()) {
    collectDefaultMetrics({ register: registry });
    const r = [registry];
    this.methodCount = new Counter({
      name: 'method_count',
      help: 'RPCs handled, by method and outcome',
      labelNames: ['method', 'success'],
      registers: r,
    });
    this.methodDuration = new Histogram({
      name: 'method_duration',
      help: 'RPC duration in seconds (for streams: the stream lifetime)',
      labelNames: ['method'],
      buckets: LATENCY_BUCKETS,
      registers: r,
    });
    this.activeSubscribers = new Gauge({ name: 'active_subscribers', help: 'open Subscribe streams', registers: r });
    this.subscriberLag = new Histogram({
      name: 'broker_subscriber_lag_records',
      help: 'records a subscriber is behind the head when it reads a batch',
      buckets: [0, 1, 10, 100, 1000, 10000, 100000, 1000000],
      registers: r,
    });
    this.log = new LogMetrics(r);
    this.messagesDelivered = new Counter({
      name: 'broker_messages_delivered_total',
      help: 'messages written to Subscribe streams',
      registers: r,
    });
    this.errors = new Counter({
      name: 'broker_errors_total',
      help: 'failed RPCs by method and error reason (the ErrorInfo reason clients get; INTERNAL for anything unexpected)',
      labelNames: ['method', 'reason'],
      registers: r,
    });
    eventLoopUtilization(r);
  }

  /** The log's measurements, fed into these metrics. */
  logObserver(): LogObserver {
    return this.log.observer();
  }

  /** Times one RPC; call the returned function once with its outcome (and, when it failed, the error). */
  startCall(method: string): (success: boolean, err?: unknown) => void {
    const labels = this.labelsOf(method);
    const started = performance.now();
    return (success, err) => this.endCall(labels, started, success, err);
  }

  /** The label objects of a method, made once: prom-client's startTimer and inc({...}) made three objects per call. */
  labelsOf(method: string): MethodLabels {
    let labels = this.methodLabels.get(method);
    if (labels === undefined) {
      labels = { method: { method }, ok: { method, success: 'true' }, failed: { method, success: 'false' } };
      this.methodLabels.set(method, labels);
    }
    return labels;
  }

  /** Records one call begun at `started` (performance.now()), as startCall's returned function does. */
  endCall(labels: MethodLabels, started: number, success: boolean, err?: unknown): void {
    this.methodDuration.observe(labels.method, (performance.now() - started) / 1000);
    this.methodCount.inc(success ? labels.ok : labels.failed);
    if (!success)
      this.errors.inc({ method: labels.method.method, reason: err instanceof BrokerError ? err.reason : 'INTERNAL' });
  }
}

/** One method's label sets for method_duration and method_count. */
export interface MethodLabels {
  readonly method: { readonly method: string };
  readonly ok: { readonly method: string; readonly success: 'true' };
  readonly failed: { readonly method: string; readonly success: 'false' };
}

/** Every broker process's event-loop utilisation: the saturation signal of a single-threaded server. */
function eventLoopUtilization(registers: Registry[]): void {
  let last = performance.eventLoopUtilization();
  new Gauge({
    name: 'broker_event_loop_utilization',
    help: "share of the time this process's event loop was busy since the previous scrape (0-1)",
    registers,
    collect() {
      const now = performance.eventLoopUtilization();
      this.set(performance.eventLoopUtilization(now, last).utilization);
      last = now;
    },
  });
}

/** The log's figures: group commits, appends, and failed writes (the gauge is 1 while the log refuses writes). */
export class LogMetrics {
  readonly appendBatchSize: Histogram;
  readonly appendLatency: Histogram;
  readonly batchWriteLatency: Histogram<'fsync'>;
  readonly recordsAppended: Counter;
  readonly bytesAppended: Counter;
  readonly logFailed: Gauge;
  readonly logWriteFailures: Counter;
  readonly checksumFailures: Counter;

  constructor(registers: Registry[]) {
    this.appendBatchSize = new Histogram({
      name: 'broker_log_append_batch_records',
      help: 'records per group commit',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096],
      registers,
    });
    this.appendLatency = new Histogram({
      name: 'broker_log_append_seconds',
      help: 'from append to acknowledgement (queueing + write + fsync)',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.batchWriteLatency = new Histogram({
      name: 'broker_log_batch_write_seconds',
      help: 'LevelDB batch write time, with fsync when fsync="true"',
      labelNames: ['fsync'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.recordsAppended = new Counter({
      name: 'broker_log_records_appended_total',
      help: 'records appended to the log',
      registers,
    });
    this.bytesAppended = new Counter({
      name: 'broker_log_bytes_appended_total',
      help: 'body bytes appended to the log',
      registers,
    });
    this.logFailed = new Gauge({ name: 'broker_log_failed', help: LOG_FAILED_HELP, registers });
    this.logWriteFailures = new Counter({
      name: 'broker_log_write_failures_total',
      help: 'failed log writes: the write that failed the log, then each failed recovery attempt',
      registers,
    });
    this.checksumFailures = new Counter({
      name: 'broker_checksum_failures_total',
      help: 'reads of a stored record that failed its checksum (CRC32C): the record was not served, the read got DATA_LOSS',
      registers,
    });
  }

  observer(): LogObserver {
    return {
      batchWritten: (records, bytes, seconds, synced) => {
        if (records > 0) {
          this.appendBatchSize.observe(records);
          this.recordsAppended.inc(records);
          this.bytesAppended.inc(bytes);
        }
        this.batchWriteLatency.observe({ fsync: synced ? 'true' : 'false' }, seconds);
      },
      appendAcknowledged: (seconds) => this.appendLatency.observe(seconds),
      checksumMismatch: () => this.checksumFailures.inc(),
      writeFailed: () => {
        this.logFailed.set(1);
        this.logWriteFailures.inc();
      },
      writeRecovered: () => this.logFailed.set(0),
    };
  }
}
