import * as hdr from 'hdr-histogram-js';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import type { LoadResult } from './ghz.js';
import type { WorkerResult, WorkerTask } from './load-worker.js';

const BOOTSTRAP = fileURLToPath(new URL('./worker-bootstrap.mjs', import.meta.url));
const ENTRY = new URL('./load-worker.ts', import.meta.url).href;

export interface RunningWorkers {
  /** Resolves when every subscribe worker has its streams open. */
  ready: Promise<void>;
  done: Promise<WorkerResult[]>;
}

export function startWorkers(tasks: WorkerTask[]): RunningWorkers {
  const readies: Promise<void>[] = [];
  const done = tasks.map(
    (task) =>
      new Promise<WorkerResult>((resolve, reject) => {
        const w = new Worker(BOOTSTRAP, { workerData: { ...task, __entry: ENTRY } });
        readies.push(task.kind === 'subscribe' ? new Promise((r) => w.on('message', (m: { ready?: boolean }) => m.ready && r())) : Promise.resolve());
        w.on('message', (m: WorkerResult | { ready: true }) => {
          if ('count' in m) resolve(m);
        });
        w.on('error', reject);
      }),
  );
  return { ready: Promise.all(readies).then(() => undefined), done: Promise.all(done) };
}

/** Adds up workers' counts and histograms into one result. */
export function summarize(name: string, results: WorkerResult[], payloadBytes: number): LoadResult {
  const total = hdr.build({ useWebAssembly: false });
  let count = 0;
  let seconds = 0;
  for (const r of results) {
    total.add(hdr.decodeFromCompressedBase64(r.histogram, 32, false));
    count += r.count;
    seconds = Math.max(seconds, r.seconds);
  }
  const ms = (p: number): number => total.getValueAtPercentile(p) / 1000;
  return {
    name,
    opsPerSec: count / seconds,
    mbPerSec: (count * payloadBytes) / seconds / 1e6,
    p50Ms: ms(50),
    p90Ms: ms(90),
    p99Ms: ms(99),
    p999Ms: ms(99.9),
    maxMs: total.maxValue / 1000,
    errors: 0,
  };
}

export function table(rows: Array<LoadResult & { ratio?: string }>, ratioTitle = 'vs broker'): string {
  const f = (n: number): string => (n >= 100 ? Math.round(n).toLocaleString('en') : n.toFixed(2));
  return [
    `| scenario | ops/s | MB/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors | ${ratioTitle} |`,
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.name} | ${f(r.opsPerSec)} | ${r.mbPerSec.toFixed(1)} | ${r.p50Ms.toFixed(2)} | ${r.p90Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${r.p999Ms.toFixed(2)} | ${r.maxMs.toFixed(1)} | ${r.errors} | ${r.ratio ?? ''} |`),
  ].join('\n');
}
