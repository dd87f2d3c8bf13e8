// npm run bench -- overload: ingest under a delivery overload (issue 14, finding 3). One PublishStream publisher at
// --rate (default 1,000/s, open model) publishes alone, then again while --subscribers live streams (default 1,000,
// 250 per connection) take every message it publishes: 1,000 x 1,000 msg/s asks 1 M deliveries/s of a broker
// that manages a few hundred thousand. Publisher and subscribers are separate loadgen processes, so the publisher
// is not starved by a client that receives a million messages a second in the same process.
// Target: during the overload the publisher keeps >= 50% of its solo rate, with ack p99 < 100 ms. Also measured:
// deliveries/s while publishing (the subscribers' loadgen counts them once a second), every acked message delivered
// to every subscriber by the end, broker RSS (flat memory) and broker CPU-µs per delivery from /proc. Beside the solo
// and the loaded run an idle process times a 1 ms timer (sched-probe.ts): the machine's own tail in the same window,
// against which the ack p99 is read on a shared machine.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadgen, loadgenRow, type LoadgenReport } from '../support/loadgen.js';
import { sampleRss } from '../support/processes.js';
import { startSchedProbe, type SchedFigures } from '../support/sched-probe.js';
import type { Row } from '../support/report.js';
import type { ScenarioResult } from '../support/result.js';
import { limitVerdict } from '../support/verdict.js';
import { BrokerBench, rssNote, type Target } from './broker-bench.js';
import { parseLoadSettings } from './load-settings.js';

const LOADGEN = fileURLToPath(new URL('../../.tools/bin/loadgen', import.meta.url));
const SHARE_TARGET = 0.5;
const ACK_P99_TARGET_MS = 100;
const TICK_US = 10_000; // USER_HZ = 100

export interface OverloadOptions {
  subscribers: number;
  rate: number;
  seconds: number;
  warmup: number;
  payload: number;
}

export interface OverloadFigures {
  solo: LoadgenReport;
  loaded: LoadgenReport;
  /** Mean of the subscribers' per-second delivery counts while the publisher ran. */
  deliveriesPerSec: number;
  delivered: number;
  /** The subscribers' loadgen report: publish-to-delivery latency (the body's timestamp) of every delivery. */
  deliveries: LoadgenReport;
  /** The publisher's acked messages x subscribers. */
  expected: number;
  rss?: ReturnType<ReturnType<typeof sampleRss>['stop']>;
  /** Broker CPU-µs per delivery over the loaded run (whole process; undefined without a pid). */
  cpuUsPerDelivery?: number;
  /** How late an idle process's 1 ms timer fired during the solo and the loaded run: the machine's floor. */
  sched: { solo: SchedFigures; loaded: SchedFigures };
  /** The broker's main thread over the loaded run: share of wall time on a CPU and waiting in the run queue. */
  mainThread?: { onCpu: number; waiting: number };
}

/** /proc/<pid>/task/<pid>/schedstat of the main thread: ns on a CPU, ns runnable but waiting for one. */
function schedstat(pid: number): { run: number; wait: number } {
  const [run, wait] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ').map(Number);
  return { run: run ?? 0, wait: wait ?? 0 };
}

/** `work` with the scheduling probe running beside it. */
async function probed<T>(work: () => Promise<T>): Promise<[T, SchedFigures]> {
  const probe = await startSchedProbe();
  try {
    return [await work(), await probe.stop()];
  } catch (err) {
    await probe.stop().catch(() => undefined);
    throw err;
  }
}

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return Number(fields[11]) + Number(fields[12]);
}

interface Sample {
  at: number;
  perSec: number;
}

/** Live subscribers in a loadgen process of their own; `opened` once they are open (its first progress line). */
function startSubscribers(
  t: Target,
  o: OverloadOptions,
): { opened: Promise<void>; done: Promise<{ report: LoadgenReport; samples: Sample[] }> } {
  const span = o.warmup + o.seconds + 8;
  const args = ['-mode', 'subscribe', '-addr', `${t.host}:${t.port}`, '-subject', 'bench.overload'];
  args.push('-streams', String(o.subscribers), '-connections', String(Math.max(1, Math.ceil(o.subscribers / 250))));
  args.push('-warmup', '0', '-seconds', String(span), '-drain', '1', '-payload', String(o.payload));
  const child = spawn(LOADGEN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  const samples: Sample[] = [];
  let signalOpen: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => (signalOpen = resolve));
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    for (const m of text.matchAll(/deliveries (\d+)\/s/g)) {
      samples.push({ at: Date.now(), perSec: Number(m[1]) });
      signalOpen();
    }
  });
  const done = new Promise<{ report: LoadgenReport; samples: Sample[] }>((resolve, reject) =>
    child.once('close', (code) => {
      if (code !== 0) reject(new Error(`loadgen subscribe exited with ${code}`));
      else resolve({ report: JSON.parse(Buffer.concat(out).toString('utf8')) as LoadgenReport, samples });
    }),
  );
  return { opened, done };
}

function publish(t: Target, o: OverloadOptions, subject: string): Promise<LoadgenReport> {
  // No warm-up: every acked message is one the subscribers must get, so the counts compare (the first second's
  // connection set-up is in the publisher's figures, solo and loaded alike).
  const seconds = o.warmup + o.seconds;
  const shape = { rate: o.rate, inflight: 1024, connections: 1, seconds, warmup: 0, payload: o.payload, drain: 5 };
  return loadgen({ mode: 'stream', host: t.host, port: t.port, subject, ...shape });
}

/** The solo run, then the same publisher under the subscribers' overload. */
export async function overload(t: Target, o: OverloadOptions): Promise<OverloadFigures> {
  const [solo, soloSched] = await probed(() => publish(t, o, 'bench.overload-solo'));
  const subs = startSubscribers(t, o);
  await subs.opened;
  const rss = t.pid === undefined ? undefined : sampleRss(t.pid);
  const cpu0 = t.pid === undefined ? 0 : cpuTicks(t.pid);
  const sched0 = t.pid === undefined ? undefined : schedstat(t.pid);
  const started = Date.now();
  const [loaded, loadedSched] = await probed(() => publish(t, o, 'bench.overload'));
  const ended = Date.now();
  const cpu1 = t.pid === undefined ? 0 : cpuTicks(t.pid);
  const sched1 = t.pid === undefined ? undefined : schedstat(t.pid);
  const mem = rss?.stop();
  const { report, samples } = await subs.done;
  // The subscribers' progress lines while the publisher ran: the delivery rate the broker sustained.
  const during = samples.filter((s) => s.at > started + 1000 && s.at <= ended);
  const deliveriesPerSec = during.reduce((a, s) => a + s.perSec, 0) / Math.max(1, during.length);
  const figures: OverloadFigures = {
    solo,
    loaded,
    deliveriesPerSec,
    delivered: report.count,
    deliveries: report,
    expected: loaded.measured * o.subscribers,
    sched: { solo: soloSched, loaded: loadedSched },
    ...(mem === undefined ? {} : { rss: mem }),
  };
  if (t.pid !== undefined) {
    const whileRunning = samples.filter((s) => s.at > started && s.at <= ended).reduce((a, s) => a + s.perSec, 0);
    figures.cpuUsPerDelivery = ((cpu1 - cpu0) * TICK_US) / Math.max(1, whileRunning);
  }
  if (sched0 !== undefined && sched1 !== undefined) {
    const wallNs = Math.max(1, ended - started) * 1e6;
    figures.mainThread = { onCpu: (sched1.run - sched0.run) / wallNs, waiting: (sched1.wait - sched0.wait) / wallNs };
  }
  return figures;
}

/** How the broker's main thread spent the loaded run: on a CPU, or runnable and waiting for one (other work). */
export function threadNote(m: { onCpu: number; waiting: number }): string {
  const pct = (x: number): string => `${(x * 100).toFixed(0)}%`;
  return `broker main thread on a CPU ${pct(m.onCpu)}, waiting for one ${pct(m.waiting)} of the run`;
}

/** The report rows: solo and loaded publisher, deliveries, each with its verdict. */
export function overloadRows(f: OverloadFigures, o: OverloadOptions, label = 'overload'): Row[] {
  const share = f.loaded.opsPerSec / Math.max(1, f.solo.opsPerSec);
  const shareVerdict = share >= SHARE_TARGET ? 'met' : 'missed';
  const p99Verdict = limitVerdict(f.loaded.p99Ms, ACK_P99_TARGET_MS);
  const solo = loadgenRow(`${label}: publisher alone, ${o.rate.toLocaleString('en')}/s asked`, f.solo, f.solo);
  const loaded = loadgenRow(
    `${label}: the same publisher, ${o.subscribers.toLocaleString('en')} subscribers taking every message`,
    f.loaded,
    f.loaded,
  );
  const fraction = f.delivered / Math.max(1, f.expected);
  const cpu = f.cpuUsPerDelivery === undefined ? '' : `; broker ${f.cpuUsPerDelivery.toFixed(1)} CPU-µs per delivery`;
  const main = f.mainThread === undefined ? '' : `; ${threadNote(f.mainThread)}`;
  return [
    { ...solo, ratio: 'solo' },
    {
      ...loaded,
      ratio:
        `${(share * 100).toFixed(0)}% of solo (target >= ${SHARE_TARGET * 100}%: ${shareVerdict}); ` +
        `ack p99 ${f.loaded.p99Ms.toFixed(0)} ms (target < ${ACK_P99_TARGET_MS} ms: ${p99Verdict})${main}; ` +
        `an idle process's 1 ms timer p99 ${f.sched.loaded.p99Ms.toFixed(1)} ms, max ${f.sched.loaded.maxMs.toFixed(0)} ms ` +
        `(solo run: ${f.sched.solo.p99Ms.toFixed(1)} / ${f.sched.solo.maxMs.toFixed(0)} ms)`,
    },
    {
      ...loadgenRow(
        `${label}: deliveries to ${o.subscribers.toLocaleString('en')} subscribers while publishing (latency: publish to delivery)`,
        f.deliveries,
        f.deliveries,
      ),
      ops: f.delivered,
      opsPerSec: f.deliveriesPerSec,
      mbPerSec: (f.deliveriesPerSec * o.payload) / 1e6,
      ratio:
        `${(fraction * 100).toFixed(1)}% of ${f.expected.toLocaleString('en')} expected (acked x subscribers) ` +
        `delivered${rssNote(f.rss)}${cpu}`,
    },
  ];
}

export async function run(args: string[]): Promise<ScenarioResult> {
  const b = new BrokerBench(parseLoadSettings(args));
  const o: OverloadOptions = {
    subscribers: b.s.subscribers ?? 1000,
    rate: b.s.rate > 0 ? b.s.rate : 1000,
    seconds: b.s.seconds,
    warmup: b.s.warmup,
    payload: b.s.payload,
  };
  return b.result('overload', await b.onBroker(async (t) => overloadRows(await overload(t, o), o)));
}
