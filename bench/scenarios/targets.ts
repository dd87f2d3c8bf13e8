// npm run bench -- targets: every issue-14 target measured in one invocation, each beside its peer or reference from
// the same run, judged by support/verdict.ts, as one "Issue 14 targets" table (support/targets-table.ts) and the
// load rows behind it. Native clients throughout (bench/loadgen, ghz); CPU from /proc of the server's process.
//   stream    PublishStream (fsync never, batch) and PublishBatch of 100 (ghz) vs NATS JetStream acked async publish
//             (compare --client go), with the broker's CPU-µs per PublishStream message
//   unary     unary Publish from ghz (1 conn x 64, then 1,000 calls/s) against the broker and the Go peer (serve-peer, same
//             broker.proto, in-memory store): rate and CPU-µs per call of each server
//   overload  1,000 subscribers x 1,000 msg/s of 100 B (overload.ts) against the broker and the Go peer: deliveries/s,
//             CPU-µs per delivery, the publisher's share of its solo rate, ack p99, RSS
//   e2e       publish-to-delivery p99 at 1,000 msg/s (one subscriber) with fsync never and batch, the disk's fdatasync
//             distribution probed during the batch run, and the Go peer at the same rate
//   log       npm run bench:log's log / raw ratios against a saved run (--log-baseline, default log-session-end)
// Options: --only PART[,PART] (default all), --duration S (default 8), --warmup S (default 2), --log-baseline NAME.
// `npm run bench:targets` saves the run as bench/results/targets.json and renders bench/RESULTS.md from it. About 5
// minutes on a quiet machine; on a busy one each measurement waits for quiet and is repeated (BENCH_RETRIES,
// BENCH_QUIET_WAIT_MS in support/workers.ts and quiet.ts shorten that).
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { ghzPublishBatch, ghzUnary } from '../support/ghz.js';
import { loadgen, loadgenRow } from '../support/loadgen.js';
import { cpuDuring, perOp } from '../support/proc-cpu.js';
import { startGoPeer } from '../support/processes.js';
import type { LoadResult, Row } from '../support/report.js';
import type { ScenarioResult, SavedResult } from '../support/result.js';
import {
  failedTarget,
  limitTarget,
  logRatios,
  logRegression,
  ratioTarget,
  targetsTable,
  type TargetRow,
} from '../support/targets-table.js';
import { measured } from '../support/workers.js';
import { BrokerBench, onServer, type Target } from './broker-bench.js';
import { peer } from './compare.js';
import type { LoadSettings } from './load-settings.js';
import { COMMON_OPTIONS } from './scenario.js';
import { e2ePart, overloadPart, type PartContext, type PartResult } from './targets-delivery.js';

export const PARTS = ['stream', 'unary', 'overload', 'e2e', 'log'] as const;
export type Part = (typeof PARTS)[number];

type CpuRow = LoadResult & { readonly mainUs: number; readonly processUs: number };

/** `work` on a server, with the server's CPU per operation over the measured window (warm-up and end left out). */
function withCpu(pid: number, from: number, to: number, work: () => Promise<LoadResult>): Promise<CpuRow> {
  return measured(async () => {
    const [r, cpu] = await Promise.all([work(), cpuDuring(pid, from * 1000, to * 1000)]);
    const per = perOp(cpu, r.opsPerSec);
    const mainNote = `main thread ${per.mainUs.toFixed(1)}, `;
    return { ...r, ...per, note: `server CPU ${mainNote}process ${per.processUs.toFixed(1)} µs per op (/proc)` };
  });
}

function streamLoad(b: BrokerBench, t: Target, label: string): Promise<CpuRow> {
  const s = b.s;
  const load = async (): Promise<LoadResult> => {
    const shape = { rate: 0, inflight: s.inflight, connections: s.connections, seconds: s.seconds, warmup: s.warmup };
    const r = await loadgen({
      mode: 'stream',
      host: t.host,
      port: t.port,
      subject: 'bench.stream',
      ...shape,
      payload: s.payload,
      subjectPerConnection: true,
    });
    return loadgenRow(`${label}: PublishStream (loadgen), ${b.model()}`, r, r);
  };
  return withCpu(t.pid ?? -1, s.warmup + 0.3, s.warmup + s.seconds - 0.3, load);
}

async function streamPart({ b, command }: PartContext): Promise<PartResult> {
  const s = b.s;
  const never = await b.onBroker((t) => streamLoad(b, t, 'broker fsync=never'), 'never');
  const batch = await b.onBroker((t) => streamLoad(b, t, 'broker fsync=batch'), 'batch');
  const nats = await peer(b, 'nats', 'NATS JetStream (file store), js.publish acked, window = in flight');
  const batchOf = (fsync: string): Promise<LoadResult> =>
    b.onBroker((t) => {
      const name = `broker fsync=${fsync}: PublishBatch of 100, ghz 1 conn x 16 calls (messages/s)`;
      const o = { name, port: t.port, subject: 'bench.batch', batch: 100, concurrency: 16, seconds: s.seconds };
      return measured(() => ghzPublishBatch({ ...o, payloadBytes: s.payload }));
    }, fsync);
  const pbNever = await batchOf('never');
  const pbBatch = await batchOf('batch');
  const msgs = (r: LoadResult): { value: number; unit: string } => ({ value: r.opsPerSec, unit: 'msg/s' });
  const natsPeer = { name: 'NATS JetStream', ...msgs(nats) };
  const cpu = (r: CpuRow, fsync: string): TargetRow =>
    limitTarget(
      `PublishStream broker CPU per message <= 25 µs (main thread; fsync ${fsync}; process ${r.processUs.toFixed(1)} µs)`,
      command,
      { value: r.mainUs, unit: 'µs/msg' },
      { is: '<=', value: 25 },
    );
  return {
    targets: [
      ratioTarget('PublishStream >= 0.5x NATS JetStream, fsync never', command, msgs(never), natsPeer, 0.5),
      ratioTarget('PublishStream >= 0.5x NATS JetStream, fsync batch', command, msgs(batch), natsPeer, 0.5),
      ratioTarget('PublishBatch of 100 >= 1.0x NATS JetStream, fsync never', command, msgs(pbNever), natsPeer, 1),
      ratioTarget('PublishBatch of 100 >= 1.0x NATS JetStream, fsync batch', command, msgs(pbBatch), natsPeer, 1),
      cpu(never, 'never'),
      cpu(batch, 'batch'),
    ],
    rows: [never, batch, nats, pbNever, pbBatch],
  };
}

const UNARY_RATE = 1000;

/** Unary Publish from ghz on one server: at saturation (1 conn x 64), then paced at UNARY_RATE calls/s. */
async function unaryLoads(b: BrokerBench, t: { port: number; pid: number }, who: string): Promise<CpuRow[]> {
  const s = b.s;
  const load = (name: string, rps?: number): Promise<CpuRow> =>
    withCpu(t.pid, 1, s.seconds - 0.5, () =>
      ghzUnary({
        name,
        port: t.port,
        call: 'broker.Broker/Publish',
        data: { subject: 'bench.unary', body: Buffer.alloc(s.payload, 1).toString('base64'), expirationSeconds: 0 },
        concurrency: 64,
        seconds: s.seconds,
        payloadBytes: s.payload,
        ...(rps === undefined ? {} : { rps }),
      }),
    );
  const saturated = await load(`${who}: unary Publish, ghz 1 conn x 64`);
  const paced = await load(`${who}: unary Publish at ${UNARY_RATE.toLocaleString('en')}/s, ghz 1 conn`, UNARY_RATE);
  return [saturated, paced];
}

async function unaryPart({ b, command }: PartContext): Promise<PartResult> {
  const ours = await b.onBroker(
    (t) => unaryLoads(b, { port: t.port, pid: t.pid ?? -1 }, 'broker fsync=batch'),
    'batch',
  );
  const go = await onServer(startGoPeer, (srv) => unaryLoads(b, srv, 'Go peer (in-memory store)'));
  const [ourMax, ourPaced] = ours;
  const [goMax, goPaced] = go;
  if (ourMax === undefined || ourPaced === undefined || goMax === undefined || goPaced === undefined)
    throw new Error('a unary load returned no row');
  const calls = (r: LoadResult): { value: number; unit: string } => ({ value: r.opsPerSec, unit: 'calls/s' });
  const cpu = (r: CpuRow, who: string): { name: string; value: number; unit: string } => ({
    name: who,
    value: r.processUs,
    unit: 'µs/call',
  });
  return {
    targets: [
      ratioTarget(
        'unary Publish >= 1.0x the Go peer (ideal)',
        command,
        calls(ourMax),
        { name: 'Go peer', ...calls(goMax) },
        1,
      ),
      limitTarget(
        'unary Publish broker CPU per call <= 80 µs (whole process, at saturation)',
        command,
        { value: ourMax.processUs, unit: 'µs/call' },
        { is: '<=', value: 80 },
        cpu(goMax, 'Go peer'),
      ),
      limitTarget(
        `unary Publish broker CPU per call <= 80 µs (whole process, at ${UNARY_RATE.toLocaleString('en')} calls/s)`,
        command,
        { value: ourPaced.processUs, unit: 'µs/call' },
        { is: '<=', value: 80 },
        cpu(goPaced, 'Go peer'),
      ),
    ],
    rows: [...ours, ...go],
  };
}

async function logPart({ command, logBaseline }: PartContext): Promise<PartResult> {
  const { run } = await import('./log.js');
  const result = await run(['--seconds', '1', '--rounds', '3']);
  const file = new URL(`../results/${logBaseline}.json`, import.meta.url);
  const baseline = logRatios(JSON.parse(await readFile(file, 'utf8')) as SavedResult);
  const now = logRatios({ ...result, recordedAt: new Date().toISOString() });
  const r = logRegression(now, baseline);
  return {
    targets: [
      limitTarget(
        `no regression in npm run bench:log: median over the log cells of (log / raw now) / (log / raw in bench/results/${logBaseline}.json) >= 0.9`,
        command,
        { value: r.median, unit: `(median of ${r.cells} cells)` },
        { is: '>=', value: 0.9 },
        { name: `baseline of ${baseline.recordedAt}`, value: 1, unit: '(by definition)' },
      ),
    ],
    rows: [],
  };
}

const RUNNERS: Readonly<Record<Part, (c: PartContext) => Promise<PartResult>>> = {
  stream: streamPart,
  unary: unaryPart,
  overload: overloadPart,
  e2e: e2ePart,
  log: logPart,
};

function machine(): string {
  const model = cpus()[0]?.model.trim() ?? 'unknown CPU';
  const load = loadavg().map((l) => l.toFixed(1));
  return `${cpus().length} cores (${model}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, load average ${load.join(' ')} at the start`;
}

/** The code measured: HEAD, and whether the tree held changes not committed (the bench builds the tree as it is). */
function code(): string {
  const git = (args: string[]): string => {
    try {
      return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return '';
    }
  };
  const head = git(['rev-parse', '--short', 'HEAD']) || 'unknown commit';
  const dirty = git(['status', '--porcelain', '--untracked-files=no'])
    .split('\n')
    .filter((l) => l !== '').length;
  const tree = dirty > 0 ? ` plus uncommitted changes to ${dirty} files` : '';
  const limits = ['BENCH_RETRIES', 'BENCH_QUIET_WAIT_MS', 'BENCH_MAX_FOREIGN', 'BENCH_QUIET_BUSY']
    .filter((v) => process.env[v] !== undefined)
    .map((v) => `${v}=${process.env[v]}`);
  return `code ${head}${tree}${limits.length > 0 ? `, ${limits.join(' ')}` : ''}`;
}

function parseOptions(args: string[]): { only: Part[]; seconds: number; warmup: number; logBaseline: string } {
  const { values } = parseArgs({
    args,
    options: {
      ...COMMON_OPTIONS,
      only: { type: 'string', default: PARTS.join(',') },
      duration: { type: 'string', default: '8' },
      warmup: { type: 'string', default: '2' },
      'log-baseline': { type: 'string', default: 'log-session-end' },
    },
  });
  const only = values.only.split(',').map((p) => p.trim());
  const unknown = only.filter((p) => !(PARTS as readonly string[]).includes(p));
  if (unknown.length > 0) throw new Error(`--only takes ${PARTS.join(', ')}; not ${unknown.join(', ')}`);
  const seconds = Number(values.duration);
  if (!(seconds > 0)) throw new Error(`--duration must be a positive number of seconds, not ${values.duration}`);
  return {
    only: only as Part[],
    seconds,
    warmup: Math.max(0, Number(values.warmup)),
    logBaseline: values['log-baseline'],
  };
}

export async function run(args: string[]): Promise<ScenarioResult> {
  const o = parseOptions(args);
  const settings: LoadSettings = {
    ...{ seconds: o.seconds, warmup: o.warmup, payload: 1024, inflight: 64, rate: 0, connections: 2, subjects: 1 },
    ...{ subscribers: undefined, fsync: 'batch', target: undefined, client: 'go' },
  };
  const b = new BrokerBench(settings);
  const startedAt = `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  const context = {
    command: `npm run bench -- targets ${args.join(' ')}`.trim(),
    startedAt,
    machine: `${machine()}, ${code()}`,
  };
  const targets: TargetRow[] = [];
  const rows: Row[] = [];
  const rest = o.seconds === 8 ? '' : ` --duration ${o.seconds}`;
  for (const part of o.only) {
    const command = `npm run bench -- targets --only ${part}${rest}`;
    const started = Date.now();
    try {
      const r = await RUNNERS[part]({ b, command, logBaseline: o.logBaseline });
      targets.push(...r.targets);
      rows.push(...r.rows);
    } catch (err) {
      targets.push(failedTarget(`every target of the ${part} part`, command, (err as Error).message));
    }
    console.error(`targets: ${part} took ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  return {
    heading: `targets (issue 14): ${o.only.join(', ')}; ${o.seconds} s per measurement after ${o.warmup} s of warm-up; ${context.machine}`,
    options: { ...o },
    tables: [
      targetsTable(targets, context),
      {
        kind: 'load',
        title: `The measurements behind them (same run, ${startedAt}, ${context.machine}):`,
        extraColumn: 'notes',
        rows,
      },
    ],
  };
}
