// Starts load workers (worker threads), shows a progress line, and merges their counts and HDR histograms.
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import type { WorkerMessage, WorkerResult, WorkerTask } from './load-worker.js';
import { cpuMark, foreignPercent, waitForQuiet } from './quiet.js';
import type { LoadResult } from './report.js';
import { mergeHistograms, percentilesMs } from './stats.js';

const BOOTSTRAP = fileURLToPath(new URL('./worker-bootstrap.mjs', import.meta.url));
const ENTRY = new URL('./load-worker.ts', import.meta.url).href;

export interface RunningWorkers {
  /** Resolves when every subscribe worker has its streams open. */
  readonly ready: Promise<void>;
  readonly done: Promise<WorkerResult[]>;
  /** Operations completed so far, over all workers (updated every second). */
  current(): number;
}

let quiet = false;
/** --json: no progress line on stderr. */
export function setQuiet(q: boolean): void {
  quiet = q;
}
export function isQuiet(): boolean {
  return quiet;
}

export function startWorkers(tasks: WorkerTask[]): RunningWorkers {
  const counts = new Array<number>(tasks.length).fill(0);
  const readies: Array<Promise<void>> = [];
  const done = tasks.map(
    (task, i) =>
      new Promise<WorkerResult>((resolve, reject) => {
        const w = new Worker(BOOTSTRAP, { workerData: { ...task, __entry: ENTRY } });
        let ready: () => void = () => undefined;
        readies.push(task.kind === 'subscribe' ? new Promise<void>((r) => (ready = r)) : Promise.resolve());
        w.on('message', (m: WorkerMessage) => {
          if (m.type === 'ready') ready();
          else if (m.type === 'progress') counts[i] = m.count;
          else {
            counts[i] = m.count;
            resolve(m);
          }
        });
        w.on('error', reject);
        w.on('exit', (code) => code !== 0 && reject(new Error(`load worker exited with ${code}`)));
      }),
  );
  return {
    ready: Promise.all(readies).then(() => undefined),
    done: Promise.all(done),
    current: () => counts.reduce((a, b) => a + b, 0),
  };
}

/** A progress line on stderr ("name: 4/10 s, 12,345 ops/s") while `work` runs. */
export async function withProgress<T>(
  name: string,
  seconds: number,
  workers: RunningWorkers,
  work: Promise<T>,
  extra: () => string = () => '',
): Promise<T> {
  const started = Date.now();
  let last = 0;
  let lastAt = started;
  const timer = setInterval(() => {
    const now = Date.now();
    const n = workers.current();
    const rate = ((n - last) * 1000) / Math.max(1, now - lastAt);
    last = n;
    lastAt = now;
    if (!quiet)
      process.stderr.write(
        `\r\x1b[K${name}: ${Math.round((now - started) / 1000)}/${seconds} s, ${Math.round(rate).toLocaleString('en')} ops/s${extra()}`,
      );
  }, 1000);
  try {
    return await work;
  } finally {
    clearInterval(timer);
    if (!quiet) process.stderr.write('\r\x1b[K');
  }
}

/** Adds up workers' counts and histograms into one row; `seconds` overrides the measured duration. */
export function summarize(name: string, results: WorkerResult[], payloadBytes: number, seconds?: number): LoadResult {
  const took = Math.max(0, ...results.map((r) => r.seconds));
  const ops = results.reduce((a, r) => a + r.count, 0);
  const errors = results.reduce((a, r) => a + r.errors, 0);
  const firstError = results.find((r) => r.firstError !== undefined)?.firstError;
  const secs = seconds ?? took;
  return {
    name,
    ops,
    opsPerSec: ops / secs,
    mbPerSec: (ops * payloadBytes) / secs / 1e6,
    ...percentilesMs(mergeHistograms(results.map((r) => r.histogram))),
    errors,
    ...(firstError !== undefined ? { note: `first error: ${firstError}` } : {}),
  };
}

/**
 * Runs one measurement after waiting (bounded) for a quiet machine, and notes how busy the CPUs were. The machine
 * is shared: when other processes took more than BENCH_MAX_FOREIGN % of it (default 20) during the measurement,
 * it is repeated, up to BENCH_RETRIES more times (default 2), and the attempt with the least foreign CPU is kept.
 */
export async function measured<T extends LoadResult>(work: () => Promise<T>): Promise<T> {
  const maxForeign = Number(process.env.BENCH_MAX_FOREIGN ?? 20);
  const retries = Number(process.env.BENCH_RETRIES ?? 2);
  let best: { r: T; foreign: number; busy: number; attempt: number } | undefined;
  for (let attempt = 1; attempt <= 1 + retries; attempt++) {
    const busy = await waitForQuiet();
    const mark = cpuMark();
    const r = await work();
    const foreign = foreignPercent(mark);
    if (best === undefined || foreign < best.foreign) best = { r, foreign, busy, attempt };
    if (foreign <= maxForeign) break;
    if (!quiet && attempt <= retries)
      process.stderr.write(`${r.name}: other processes used ${foreign.toFixed(0)}% of the CPUs, measuring again\n`);
  }
  if (best === undefined) throw new Error('measured ran no attempt');
  const { r, foreign, busy, attempt } = best;
  const note = `foreign CPU ${foreign.toFixed(0)}% during (attempt ${attempt}), ${busy.toFixed(0)}% busy before`;
  return { ...r, note: r.note === undefined ? note : `${note}; ${r.note}` };
}
