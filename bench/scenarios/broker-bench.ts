// What the gRPC load scenarios share: a broker to run against (started here, or --target), load tasks for the
// worker threads shaped by the settings, the PublishStream measurement, and the heading of the report.
import type { WorkerTask } from '../support/load-worker.js';
import { loadgen, loadgenRow } from '../support/loadgen.js';
import { startBroker, type Running, type sampleRss } from '../support/processes.js';
import { foreignPercent, type CpuMark } from '../support/quiet.js';
import type { LoadResult, Row } from '../support/report.js';
import type { ScenarioResult } from '../support/result.js';
import { measured, startWorkers, summarize, withProgress } from '../support/workers.js';
import type { LoadSettings } from './load-settings.js';

export interface Target {
  host: string;
  port: number;
  /** Set when this run started the broker (its RSS can be read). */
  pid?: number;
  /** Set when this run started the broker with BROKER_METRICS_PORT (its /metrics can be read). */
  metricsPort?: number;
}

export type LoadKind = 'unary' | 'stream' | 'nats' | 'redis-xadd';

export interface LoadShape {
  rate?: number;
  inflight?: number;
  seconds?: number;
  connections?: number;
}

export async function onServer<T, R extends Running = Running>(
  start: () => Promise<R>,
  work: (s: R) => Promise<T>,
): Promise<T> {
  const server = await start();
  try {
    return await work(server);
  } finally {
    await server.stop();
  }
}

export class BrokerBench {
  private readonly started = Date.now();

  constructor(readonly s: LoadSettings) {}

  /** Runs `work` against --target, or against a broker started here with the given fsync mode (and `env`). */
  async onBroker<T>(
    work: (t: Target) => Promise<T>,
    fsync = this.s.fsync,
    env: Record<string, string> = {},
  ): Promise<T> {
    if (this.s.target !== undefined) {
      const [host, port] = this.s.target.split(':');
      return work({ host: host || '127.0.0.1', port: Number(port) });
    }
    return onServer(
      () => startBroker({ BROKER_FSYNC: fsync, ...env }),
      (srv) => {
        const metricsPort = srv.metricsPort > 0 ? srv.metricsPort : undefined;
        return work({ host: '127.0.0.1', port: srv.port, pid: srv.pid, ...(metricsPort ? { metricsPort } : {}) });
      },
    );
  }

  /** One task per connection; the total rate is split evenly. */
  tasks(kind: LoadKind, t: Target, subject: string, o: LoadShape = {}): WorkerTask[] {
    const connections = o.connections ?? this.s.connections;
    const rate = o.rate ?? this.s.rate;
    return Array.from({ length: connections }, (_, i) => ({
      kind,
      host: t.host,
      port: t.port,
      subject: this.s.subjects > 1 ? subject : `${subject}.${i}`,
      subjects: this.s.subjects,
      seconds: o.seconds ?? this.s.seconds,
      inflight: o.inflight ?? this.s.inflight,
      payload: this.s.payload,
      rate: rate > 0 ? rate / connections : 0,
      warmup: this.s.warmup,
    }));
  }

  /** Runs worker tasks as one measurement (repeated when the machine was busy) and summarises them as one row. */
  async run(name: string, tasks: WorkerTask[], seconds = this.s.seconds): Promise<LoadResult> {
    return measured(async () => {
      const w = startWorkers(tasks);
      return summarize(name, await withProgress(name, seconds, w, w.done), this.s.payload);
    });
  }

  /** "2 conn x 64 in flight", or the open model's rate. */
  model(inflight = this.s.inflight, rate = this.s.rate, connections = this.s.connections): string {
    return rate > 0
      ? `open model ${rate.toLocaleString('en')}/s over ${connections} conn`
      : `${connections} conn x ${inflight} in flight`;
  }

  async publishStream(t: Target, label = 'broker', o: { rate?: number; inflight?: number } = {}): Promise<LoadResult> {
    const s = this.s;
    if (s.client === 'go') {
      // One subject per connection, as the Node workers publish (unless --subjects spreads them).
      const rate = o.rate ?? s.rate;
      const inflight = o.inflight ?? s.inflight;
      return measured(async () => {
        const r = await loadgen({
          mode: 'stream',
          host: t.host,
          port: t.port,
          subject: 'bench.stream',
          subjects: s.subjects,
          subjectPerConnection: s.subjects === 1,
          rate,
          inflight,
          connections: s.connections,
          seconds: s.seconds,
          warmup: s.warmup,
          payload: s.payload,
        });
        return loadgenRow(`${label}: PublishStream (loadgen), ${this.model(inflight, rate)}`, r, r);
      });
    }
    return this.run(
      `${label}: PublishStream, ${this.model(o.inflight, o.rate)}`,
      this.tasks('stream', t, 'bench.stream', o),
    );
  }

  /** Subscribers spread over the worker threads, up to 250 streams per HTTP/2 connection. */
  subscribers(t: Target, subject: string, streams: number, seconds: number, subjects = 1): WorkerTask[] {
    const workers = Math.min(this.s.connections, streams);
    return Array.from({ length: workers }, (_, i) => ({
      kind: 'subscribe' as const,
      host: t.host,
      port: t.port,
      subject,
      subjects,
      seconds,
      warmup: this.s.warmup,
      streams: Math.floor(streams / workers) + (i < streams % workers ? 1 : 0),
      streamsPerChannel: 250,
    }));
  }

  /** The report: a heading that says how it was measured, and one table of rows. */
  result(scenario: string, rows: readonly Row[]): ScenarioResult {
    const s = this.s;
    const warm =
      s.client === 'go'
        ? `loadgen rows measured for ${s.seconds} s after ${s.warmup} s of warm-up that count in neither rates nor percentiles`
        : `latency percentiles of the Node clients without the first ${s.warmup} s (warm-up)`;
    return {
      heading: `${scenario}: ${s.payload} B payloads, ${s.seconds} s per measurement, ${warm}, ${((Date.now() - this.started) / 1000).toFixed(0)} s in all`,
      options: { ...s, target: s.target ?? null },
      tables: [{ kind: 'load', extraColumn: scenario === 'compare' ? 'ratio to the broker / target' : 'notes', rows }],
    };
  }
}

/** The broker's RSS over a fan-out run, for the notes column ('' when its RSS could not be read). */
export function rssNote(mem: ReturnType<ReturnType<typeof sampleRss>['stop']> | undefined): string {
  if (mem === undefined) return '';
  return `; broker RSS ${mem.startMb.toFixed(0)} -> max ${mem.maxMb.toFixed(0)} -> end ${mem.endMb.toFixed(0)} MB (second half ${mem.secondHalfGrowthMb >= 0 ? '+' : ''}${mem.secondHalfGrowthMb.toFixed(0)} MB)`;
}

export function cpuNote(mark: CpuMark, busyBefore: number): string {
  return `foreign CPU ${foreignPercent(mark).toFixed(0)}% during, ${busyBefore.toFixed(0)}% busy before`;
}
