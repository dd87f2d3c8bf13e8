// npm run bench -- workers [--workers-list 1,2 | auto | 1,2,4,auto] [--duration S] [--probe-duration S]
//   [--payload B] [--connections N] [--inflight N] [--subscribers N] [--fanout-rate N] [--fanout-payload B]
//
// One broker per worker count (BROKER_WORKERS=N, as `npm start` runs it: dist/api/cli.js, the bench scripts build
// first; fsync batch; a fresh data dir with BROKER_PARTITIONS = max(16, N)), measured with native load generators
// over several connections, so that node:cluster's round-robin spreads them over the workers:
//   - PublishStream: bench/loadgen, --connections (default max(4, 2 x the largest N)) x --inflight (64), every
//     connection's messages round-robin over 100 subjects (a prefix chosen so that the subjects are owned evenly by the
//     workers of every N in the list): with N workers, (N-1)/N of the messages arrive at a worker that does not own
//     their subject and are forwarded, as they would be from many producers.
//   - PublishBatch: ghz, the same connections x 4 calls, each call 100 messages, one to each of the 100 subjects (a
//     worker splits a batch by owner and forwards the other owners' parts whole).
//   - fan-out: bench/loadgen e2e, --subscribers (1,000) Subscribe streams on one subject over max(4, 2 x the largest
//     N) connections, one PublishStream publisher at --fanout-rate (1,000/s, open model: above what one core
//     delivers, so deliveries/s is the ceiling); subscribers on workers that do not own the subject read it through
//     that worker's one shared upstream subscription.
//   - forwarded vs direct: one connection, one subject owned by worker 0, 64 in flight, for --probe-duration s. Which
//     worker a connection lands on is node:cluster's choice, so each attempt is classified afterwards from the
//     broker's own counters: `broker_forwarded_publishes_total` rose by about the messages appended (labelled with
//     the worker the connection landed on) = forwarded; it did not move = direct (the connection landed on the
//     owner). Attempts are repeated (a new connection: round-robin moves it to the next worker) until both kinds are
//     seen, at most N + 2 attempts. Same subject, same load, same broker: the only difference is the path, and the
//     per-process CPU shows where the extra cost lands (the edge worker's forwarding client, the owner's Append).
//
// Broker CPU: utime + stime from /proc/<pid>/stat (every thread: V8, libuv's pool, LevelDB) of the primary and each
// worker, read before and after a measurement; divided by the messages the broker appended in that interval (the
// sum over workers of broker_log_records_appended_total from the primary's /metrics, warm-up and drain included, as
// the CPU is) or, for fan-out, by broker_messages_delivered_total (which also counts the few deliveries of the
// internal upstream streams: one per message per other worker holding subscribers, 0.1% at 1,000 subscribers).
// The load generators run on the same machine and take CPU from it: on a 2-core machine N=2 cannot show twice the
// throughput, and the CPU-µs per message is the figure that carries to a bigger machine.
//
// The first worker count of the list is the reference of the ratios. `auto` is BROKER_WORKERS=auto (the cores this
// process may use, as the broker counts them), so the same command runs unchanged on a bigger machine. This scenario
// runs many measurements: each is repeated at most once when other processes used more than BENCH_MAX_FOREIGN % of
// the CPUs (BENCH_RETRIES, default 1 here).
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { DEFAULT_PARTITIONS, partitionOf, workerOf } from '../../core/partitioning.js';
import { ghzUnary } from '../support/ghz.js';
import { loadgen, loadgenRow } from '../support/loadgen.js';
import { startBroker, type RunningBroker } from '../support/processes.js';
import { trackPid } from '../support/quiet.js';
import type { LoadResult, Row } from '../support/report.js';
import type { ResultTable, ScenarioResult } from '../support/result.js';
import { measured, setQuiet } from '../support/workers.js';
import { COMMON_OPTIONS } from './scenario.js';

interface Settings {
  /** Worker counts as given ('auto' kept, so the report says so). */
  readonly workers: ReadonlyArray<number | 'auto'>;
  readonly seconds: number;
  readonly probeSeconds: number;
  readonly warmup: number;
  readonly payload: number;
  readonly connections: number;
  readonly inflight: number;
  readonly subscribers: number;
  readonly fanoutRate: number;
  readonly fanoutPayload: number;
  readonly subjects: number;
  readonly batch: number;
}

const countOf = (w: number | 'auto'): number => (w === 'auto' ? availableParallelism() : w);
const labelOf = (w: number | 'auto'): string => (w === 'auto' ? `auto (${availableParallelism()})` : String(w));

function parseSettings(args: string[]): Settings {
  const { values } = parseArgs({
    args,
    options: {
      ...COMMON_OPTIONS,
      'workers-list': { type: 'string', default: '1,2' },
      duration: { type: 'string', default: '10' },
      'probe-duration': { type: 'string', default: '6' },
      warmup: { type: 'string', default: '2' },
      payload: { type: 'string', default: '1024' },
      connections: { type: 'string' },
      inflight: { type: 'string', default: '64' },
      subscribers: { type: 'string', default: '1000' },
      'fanout-rate': { type: 'string', default: '1000' },
      'fanout-payload': { type: 'string', default: '100' },
    },
  });
  setQuiet(values.json);
  const given = values['workers-list']
    .split(',')
    .map((w) => w.trim())
    .filter((w) => w !== '')
    .map((w): number | 'auto' => (w === 'auto' ? 'auto' : Math.max(1, Math.floor(Number(w)))));
  if (given.some((w) => w !== 'auto' && !Number.isFinite(w))) throw new Error('--workers-list: counts or auto');
  // `auto` alone is measured against one worker; a count repeated (auto = 2 on a 2-core machine) runs once.
  const list = given.length === 1 && given[0] === 'auto' ? [1, 'auto' as const] : given;
  const workers = list.filter((w, i) => list.findIndex((x) => countOf(x) === countOf(w)) === i);
  const most = Math.max(...workers.map(countOf));
  return {
    workers,
    seconds: Number(values.duration),
    probeSeconds: Number(values['probe-duration']),
    warmup: Number(values.warmup),
    payload: Number(values.payload),
    connections: values.connections === undefined ? Math.max(4, 2 * most) : Number(values.connections),
    inflight: Number(values.inflight),
    subscribers: Number(values.subscribers),
    fanoutRate: Number(values['fanout-rate']),
    fanoutPayload: Number(values['fanout-payload']),
    subjects: 100,
    batch: 100,
  };
}

const partitionsFor = (n: number): number => Math.max(DEFAULT_PARTITIONS, n);

/** Messages per worker when one goes to each of `<prefix>.0 .. <prefix>.<subjects-1>`. */
function ownership(prefix: string, subjects: number, workers: number): number[] {
  const counts = new Array<number>(workers).fill(0);
  for (let i = 0; i < subjects; i++) {
    const w = workerOf(partitionOf(`${prefix}.${i}`, partitionsFor(workers)), workers);
    counts[w] = (counts[w] ?? 0) + 1;
  }
  return counts;
}

/** The subject prefix (of bench.w0 .. bench.w999) whose subjects the workers of every count own most evenly. */
function evenPrefix(subjects: number, counts: readonly number[]): string {
  let best = { prefix: 'bench.w0', skew: Infinity };
  for (let k = 0; k < 1000 && best.skew > 0; k++) {
    const prefix = `bench.w${k}`;
    const skew = Math.max(
      ...counts.map((n) => {
        const c = ownership(prefix, subjects, n);
        return (Math.max(...c) - Math.min(...c)) / (subjects / n);
      }),
    );
    if (skew < best.skew) best = { prefix, skew };
  }
  return best.prefix;
}

/** A subject worker `owner` owns when there are `workers` workers. */
function subjectOwnedBy(owner: number, workers: number): string {
  for (let k = 0; ; k++) {
    const s = `bench.probe.${k}`;
    if (workerOf(partitionOf(s, partitionsFor(workers)), workers) === owner) return s;
  }
}

// ---- the broker's processes and their CPU ----

/** The primary and, with workers, each worker's pid by index (from BROKER_WORKER_INDEX in its environment). */
interface BrokerProcesses {
  readonly primary: number;
  readonly workers: ReadonlyMap<number, number>;
}

function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After the command name (which may hold spaces): state is field 3, ppid 4, utime 14, stime 15.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

function discover(primary: number): BrokerProcesses {
  const workers = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || Number(statFields(pid)?.[1]) !== primary) continue;
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      const index = env.find((e) => e.startsWith('BROKER_WORKER_INDEX='))?.split('=')[1];
      if (index !== undefined) workers.set(Number(index), pid);
    } catch {
      // gone
    }
  }
  return { primary, workers };
}

const TICK_US = 1e6 / 100; // USER_HZ: 100 on Linux

/** CPU µs (user + system) of each process: 'broker' (one process) or 'primary' and 'w0', 'w1', ... */
function cpuUs(p: BrokerProcesses): Map<string, number> {
  const ticks = (pid: number): number => {
    const f = statFields(pid);
    return f === undefined ? 0 : (Number(f[11]) + Number(f[12])) * TICK_US;
  };
  const out = new Map<string, number>();
  out.set(p.workers.size === 0 ? 'broker' : 'primary', ticks(p.primary));
  for (const [index, pid] of [...p.workers].sort((a, b) => a[0] - b[0])) out.set(`w${index}`, ticks(pid));
  return out;
}

// ---- the broker's counters, from the primary's /metrics (merged over the workers, each labelled worker="i") ----

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

async function scrape(port: number): Promise<Sample[]> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) labels[l[1] ?? ''] = l[2] ?? '';
    samples.push({ name: m[1] ?? '', labels, value: Number(m[3]) });
  }
  return samples;
}

const total = (s: readonly Sample[], name: string, label?: [string, string]): number =>
  s
    .filter((x) => x.name === name && (label === undefined || x.labels[label[0]] === label[1]))
    .reduce((a, x) => a + x.value, 0);

/** What the broker did and spent during one measurement. */
interface Cost {
  readonly seconds: number;
  /** CPU µs by process ('broker', or 'primary', 'w0', ...). */
  readonly cpu: ReadonlyMap<string, number>;
  readonly appended: number;
  readonly delivered: number;
  /** Publishes forwarded in batches, by the worker that forwarded them. */
  readonly forwardedBy: ReadonlyMap<number, number>;
  /** Calls forwarded whole (PublishBatch parts, reads). */
  readonly forwardedCalls: number;
}

type Costed = LoadResult & { readonly cost: Cost };

class Broker {
  private constructor(
    readonly workers: number | 'auto',
    readonly running: RunningBroker,
    readonly procs: BrokerProcesses,
  ) {}

  static async start(workers: number | 'auto'): Promise<Broker> {
    const running = await startBroker({
      BROKER_WORKERS: String(workers),
      BROKER_PARTITIONS: String(partitionsFor(countOf(workers))),
      BROKER_METRICS_PORT: '0',
      BROKER_FSYNC: 'batch',
    });
    const procs = discover(running.pid);
    if (countOf(workers) > 1 && procs.workers.size !== countOf(workers)) {
      await running.stop();
      throw new Error(`BROKER_WORKERS=${workers}: found ${procs.workers.size} worker processes`);
    }
    // Their CPU is this run's, not "foreign" (the primary is tracked by startBroker).
    for (const pid of procs.workers.values()) trackPid(pid, true);
    return new Broker(workers, running, procs);
  }

  get port(): number {
    return this.running.port;
  }

  async stop(): Promise<void> {
    for (const pid of this.procs.workers.values()) trackPid(pid, false);
    await this.running.stop();
  }

  /** Runs one load (repeated by `measured` when the machine was busy) with the broker's CPU and counters around it. */
  measure(work: () => Promise<LoadResult>): Promise<Costed> {
    return measured(async () => {
      const m0 = await scrape(this.running.metricsPort);
      const c0 = cpuUs(this.procs);
      const t0 = performance.now();
      const row = await work();
      const seconds = (performance.now() - t0) / 1000;
      const c1 = cpuUs(this.procs);
      const m1 = await scrape(this.running.metricsPort);
      const delta = (name: string, label?: [string, string]): number => total(m1, name, label) - total(m0, name, label);
      const forwardedBy = new Map<number, number>();
      for (const w of this.procs.workers.keys())
        forwardedBy.set(w, delta('broker_forwarded_publishes_total', ['worker', String(w)]));
      const cpu = new Map([...c1].map(([k, v]) => [k, v - (c0.get(k) ?? 0)]));
      const cost: Cost = {
        seconds,
        cpu,
        appended: delta('broker_log_records_appended_total'),
        delivered: delta('broker_messages_delivered_total'),
        forwardedBy,
        forwardedCalls: delta('broker_forwarded_calls_total'),
      };
      return { ...row, cost };
    });
  }
}

const sumOf = (m: ReadonlyMap<string, number>): number => [...m.values()].reduce((a, v) => a + v, 0);
const fmt = (v: number, digits = 1): string => (v >= 100 ? Math.round(v).toLocaleString('en') : v.toFixed(digits));
const ratio = (v: number, ref: number | undefined): string =>
  ref === undefined || ref <= 0 ? '' : `${(v / ref).toFixed(2)}x`;
const foreignOf = (r: LoadResult): string => /foreign CPU (\d+)%/.exec(r.note ?? '')?.[1] ?? '?';

// ---- the loads ----

interface Loads {
  readonly prefix: string;
  readonly publishStream: Costed;
  readonly publishBatch: Costed;
  readonly fanPublisher: LoadResult;
  readonly fanOut: Costed;
  readonly probes: Probe[];
}

interface Probe {
  readonly run: Costed;
  readonly owner: number;
  /** The worker the connection landed on; undefined with one process. */
  readonly edge: number | undefined;
  readonly path: 'direct' | 'forwarded' | 'single process' | 'mixed';
}

async function publishStream(b: Broker, s: Settings, prefix: string): Promise<Costed> {
  const name = `N=${labelOf(b.workers)}: PublishStream (loadgen), ${s.connections} conn x ${s.inflight}, ${s.subjects} subjects`;
  return b.measure(async () => {
    const r = await loadgen({
      mode: 'stream',
      host: '127.0.0.1',
      port: b.port,
      subject: prefix,
      subjects: s.subjects,
      rate: 0,
      inflight: s.inflight,
      connections: s.connections,
      seconds: s.seconds,
      warmup: s.warmup,
      payload: s.payload,
    });
    return loadgenRow(name, r, r);
  });
}

async function publishBatch(b: Broker, s: Settings, prefix: string): Promise<Costed> {
  const calls = 4 * s.connections;
  const body = Buffer.alloc(s.payload, 1).toString('base64');
  const messages = Array.from({ length: s.batch }, (_, i) => ({
    subject: `${prefix}.${i % s.subjects}`,
    body,
    expirationSeconds: 0,
  }));
  const name = `N=${labelOf(b.workers)}: PublishBatch of ${s.batch} (ghz), ${s.connections} conn x ${calls / s.connections} calls, one message per subject (messages/s, latency per call)`;
  return b.measure(async () => {
    const r = await ghzUnary({
      name,
      port: b.port,
      call: 'broker.Broker/PublishBatch',
      data: { messages },
      concurrency: calls,
      connections: s.connections,
      seconds: s.seconds,
      payloadBytes: s.payload * s.batch,
    });
    return { ...r, ops: r.ops * s.batch, opsPerSec: r.opsPerSec * s.batch };
  });
}

async function fanOut(b: Broker, s: Settings, connections: number): Promise<{ publisher: LoadResult; fan: Costed }> {
  let publisher: LoadResult | undefined;
  const label = `N=${labelOf(b.workers)}: fan-out (loadgen)`;
  const fan = await b.measure(async () => {
    const r = await loadgen({
      mode: 'e2e',
      host: '127.0.0.1',
      port: b.port,
      subject: 'bench.fan',
      rate: s.fanoutRate,
      inflight: 1024,
      connections,
      streams: s.subscribers,
      seconds: s.seconds,
      warmup: s.warmup,
      payload: s.fanoutPayload,
    });
    publisher = loadgenRow(`${label}: publisher, ${s.fanoutRate.toLocaleString('en')}/s`, r.publisher ?? r, r);
    const row = loadgenRow(
      `${label}: deliveries to ${s.subscribers.toLocaleString('en')} subscribers over ${connections} conn`,
      r,
      { ...r, unsent: 0, unacked: 0 },
    );
    const share = `${((r.deliveredFraction ?? 0) * 100).toFixed(1)}% of ${(r.expected ?? 0).toLocaleString('en')} expected deliveries`;
    return { ...row, note: row.note === undefined ? share : `${share}; ${row.note}` };
  });
  if (publisher === undefined) throw new Error('fan-out: no publisher row');
  return { publisher, fan };
}

/** One connection publishing to a subject worker 0 owns; classified by the forwarding counters. */
async function probe(b: Broker, s: Settings, attempt: number): Promise<Probe> {
  const n = countOf(b.workers);
  const subject = subjectOwnedBy(0, n);
  const run = await b.measure(async () => {
    const r = await loadgen({
      mode: 'stream',
      host: '127.0.0.1',
      port: b.port,
      subject,
      rate: 0,
      inflight: s.inflight,
      connections: 1,
      seconds: s.probeSeconds,
      warmup: 1,
      payload: s.payload,
    });
    return loadgenRow(
      `N=${labelOf(b.workers)}: PublishStream (loadgen), 1 conn x ${s.inflight}, 1 subject owned by w0 (attempt ${attempt})`,
      r,
      r,
    );
  });
  if (n === 1) return { run, owner: 0, edge: undefined, path: 'single process' };
  const forwarded = [...run.cost.forwardedBy].filter(([, v]) => v > 0);
  const all = forwarded.reduce((a, [, v]) => a + v, 0);
  if (all === 0) return { run, owner: 0, edge: 0, path: 'direct' };
  if (forwarded.length === 1 && all >= 0.99 * run.cost.appended)
    return { run, owner: 0, edge: forwarded[0]?.[0], path: 'forwarded' };
  return { run, owner: 0, edge: undefined, path: 'mixed' };
}

async function probes(b: Broker, s: Settings): Promise<Probe[]> {
  const n = countOf(b.workers);
  if (n === 1) return [await probe(b, s, 1)];
  const out: Probe[] = [];
  for (let attempt = 1; attempt <= n + 2; attempt++) {
    out.push(await probe(b, s, attempt));
    if (out.some((p) => p.path === 'direct') && out.some((p) => p.path === 'forwarded')) break;
  }
  return out;
}

async function measureAll(w: number | 'auto', s: Settings, prefix: string, fanConnections: number): Promise<Loads> {
  const b = await Broker.start(w);
  try {
    const stream = await publishStream(b, s, prefix);
    const batch = await publishBatch(b, s, prefix);
    const { publisher, fan } = await fanOut(b, s, fanConnections);
    const p = await probes(b, s);
    return { prefix, publishStream: stream, publishBatch: batch, fanPublisher: publisher, fanOut: fan, probes: p };
  } finally {
    await b.stop();
  }
}

// ---- the report ----

/** µs of CPU per unit, by process: "primary 0.3, w0 40.1, w1 39.0". */
function byProcess(cost: Cost, units: number): string {
  return [...cost.cpu].map(([k, v]) => `${k} ${fmt(v / Math.max(1, units))}`).join(', ');
}

function costRow(
  load: string,
  w: number | 'auto',
  r: Costed,
  units: number,
  unitName: string,
  ref: { rate: number; perUnit: number } | undefined,
  forwarded: string,
): string[] {
  const cpu = sumOf(r.cost.cpu);
  const perUnit = cpu / Math.max(1, units);
  return [
    load,
    labelOf(w),
    `${fmt(r.opsPerSec)} ${unitName}/s`,
    ratio(r.opsPerSec, ref?.rate),
    `${fmt((cpu / 1e6 / r.cost.seconds) * 100, 0)}%`,
    fmt(perUnit),
    ratio(perUnit, ref?.perUnit),
    byProcess(r.cost, units),
    forwarded,
    `${foreignOf(r)}%`,
  ];
}

function forwardedShare(c: Cost): string {
  const f = [...c.forwardedBy.values()].reduce((a, v) => a + v, 0);
  return c.forwardedBy.size === 0 ? '-' : `${((f / Math.max(1, c.appended)) * 100).toFixed(0)}% of appends`;
}

function report(
  s: Settings,
  runs: ReadonlyArray<{ w: number | 'auto'; loads: Loads }>,
  started: number,
): ScenarioResult {
  const ref = runs[0];
  const perMsg = (r: Costed): number => sumOf(r.cost.cpu) / Math.max(1, r.cost.appended);
  const perDelivery = (r: Costed): number => sumOf(r.cost.cpu) / Math.max(1, r.cost.delivered);
  const rows: string[][] = [];
  const loads: Array<{
    name: string;
    pick: (l: Loads) => Costed;
    units: (r: Costed) => number;
    per: (r: Costed) => number;
    unit: string;
    fwd: (r: Costed) => string;
  }> = [
    {
      name: 'PublishStream',
      pick: (l) => l.publishStream,
      units: (r) => r.cost.appended,
      per: perMsg,
      unit: 'msg',
      fwd: (r) => forwardedShare(r.cost),
    },
    {
      name: `PublishBatch of ${s.batch}`,
      pick: (l) => l.publishBatch,
      units: (r) => r.cost.appended,
      per: perMsg,
      unit: 'msg',
      fwd: (r) => (r.cost.forwardedBy.size === 0 ? '-' : `${fmt(r.cost.forwardedCalls, 0)} batch parts`),
    },
    {
      name: `fan-out, ${s.subscribers.toLocaleString('en')} subscribers (CPU per delivery)`,
      pick: (l) => l.fanOut,
      units: (r) => r.cost.delivered,
      per: perDelivery,
      unit: 'deliveries',
      fwd: () => '-',
    },
  ];
  for (const load of loads) {
    const first = ref === undefined ? undefined : load.pick(ref.loads);
    for (const { w, loads: l } of runs) {
      const r = load.pick(l);
      const isRef = first === r;
      rows.push(
        costRow(
          load.name,
          w,
          r,
          load.units(r),
          load.unit,
          isRef || first === undefined ? undefined : { rate: first.opsPerSec, perUnit: load.per(first) },
          load.fwd(r),
        ),
      );
    }
  }
  const probeRows: string[][] = [];
  for (const { w, loads: l } of runs) {
    const direct = l.probes.filter((p) => p.path === 'direct' || p.path === 'single process');
    const directPer =
      direct.length === 0 ? undefined : direct.map((p) => perMsg(p.run)).reduce((a, v) => a + v) / direct.length;
    const directRate =
      direct.length === 0 ? undefined : direct.map((p) => p.run.opsPerSec).reduce((a, v) => a + v) / direct.length;
    for (const p of l.probes) {
      const units = Math.max(1, p.run.cost.appended);
      const edge = p.edge === undefined ? undefined : p.run.cost.cpu.get(`w${p.edge}`);
      const owner = p.run.cost.cpu.get(`w${p.owner}`);
      probeRows.push([
        labelOf(w),
        p.path,
        p.edge === undefined ? '-' : `w${p.edge}`,
        p.edge === undefined ? '-' : `w${p.owner}`,
        fmt(p.run.opsPerSec),
        p.path === 'direct' || p.path === 'single process' ? '' : ratio(p.run.opsPerSec, directRate),
        fmt(perMsg(p.run)),
        p.path === 'forwarded' && edge !== undefined ? fmt(edge / units) : '-',
        p.path === 'forwarded' && owner !== undefined ? fmt(owner / units) : '-',
        p.path === 'direct' || p.path === 'single process' ? '' : ratio(perMsg(p.run), directPer),
        byProcess(p.run.cost, units),
        `${foreignOf(p.run)}%`,
      ]);
    }
  }
  const loadRows: Row[] = runs.flatMap(({ loads: l }) => [
    l.publishStream,
    l.publishBatch,
    l.fanPublisher,
    l.fanOut,
    ...l.probes.map((p) => ({ ...p.run, note: `${p.path}; ${p.run.note ?? ''}` })),
  ]);
  const strip = (r: Row): Row => {
    const { cost, ...rest } = r as Costed;
    void cost;
    return rest;
  };
  const tables: ResultTable[] = [
    {
      kind: 'cells',
      title: `Throughput and broker CPU by worker count (ratios to N=${ref === undefined ? '?' : labelOf(ref.w)})`,
      columns: [
        'load',
        'workers',
        'rate',
        'rate vs ref',
        'broker CPU',
        'CPU-µs per msg / delivery',
        'CPU-µs vs ref',
        'CPU-µs per msg / delivery, by process',
        'forwarded',
        'foreign CPU',
      ],
      align: ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'left', 'left', 'right'],
      rows,
    },
    {
      kind: 'cells',
      title:
        'Forwarded vs direct publish: one connection, one subject owned by w0, the path read from the forwarding counters',
      columns: [
        'workers',
        'path',
        'connection on',
        'owner',
        'msg/s',
        'msg/s vs direct',
        'CPU-µs per msg',
        'edge worker µs',
        'owner µs',
        'CPU-µs vs direct',
        'by process',
        'foreign CPU',
      ],
      align: ['right', 'left', 'left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'left', 'right'],
      rows: probeRows,
    },
    { kind: 'load', title: 'Every measurement', extraColumn: 'notes', rows: loadRows.map(strip) },
  ];
  const prefix = ref?.loads.prefix ?? '';
  const owned = runs
    .filter(({ w }) => countOf(w) > 1)
    .map(({ w }) => `N=${labelOf(w)}: ${ownership(prefix, s.subjects, countOf(w)).join('/')}`)
    .join(', ');
  return {
    heading: `workers: ${s.payload} B payloads (fan-out ${s.fanoutPayload} B), ${s.seconds} s per load after ${s.warmup} s of warm-up (probes ${s.probeSeconds} s after 1 s), ${availableParallelism()} cores; broker CPU = utime+stime of the primary and every worker from /proc over the whole load (warm-up and drain included) / messages appended (or delivered) in that interval, from the broker's counters; subjects ${prefix}.0-${s.subjects - 1}${owned === '' ? '' : ` (owned per worker: ${owned})`}; ${((Date.now() - started) / 1000).toFixed(0)} s in all`,
    options: { ...s, workers: s.workers.map(labelOf) },
    tables,
  };
}

export async function run(args: string[]): Promise<ScenarioResult> {
  const s = parseSettings(args);
  process.env.BENCH_RETRIES ??= '1';
  const started = Date.now();
  const counts = s.workers.map(countOf);
  const prefix = evenPrefix(
    s.subjects,
    counts.filter((n) => n > 1),
  );
  const fanConnections = Math.max(Math.ceil(s.subscribers / 250), 2 * Math.max(...counts));
  const runs: Array<{ w: number | 'auto'; loads: Loads }> = [];
  for (const w of s.workers) runs.push({ w, loads: await measureAll(w, s, prefix, fanConnections) });
  return report(s, runs, started);
}
