// Runs ghz (a native gRPC load generator, built from the Go module proxy into .tools/bin) and reads its JSON report.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { LoadResult } from './report.js';
import { latencyHistogram } from './stats.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const GHZ = `${ROOT}.tools/bin/ghz`;

/** Builds ghz once through scripts/tools.sh, where the pinned versions of the Go tools live. */
export async function ensureGhz(): Promise<void> {
  if (existsSync(GHZ)) return;
  await run('bash', [`${ROOT}scripts/tools.sh`, 'ghz'], { cwd: ROOT });
}

export interface GhzReport {
  rps: number;
  /** The run's wall time, ns. */
  total: number;
  count: number;
  slowest: number;
  latencyDistribution: Array<{ percentage: number; latency: number }> | null;
  statusCodeDistribution: Record<string, number>;
  details?: Array<{ latency: number; status: string }> | null;
}

/**
 * The request data: inline, or from a file when it is larger than Linux lets one argument be (128 KiB), as a batch
 * of a hundred 1 KiB messages is.
 */
function dataArgs(data: object): string[] {
  const json = JSON.stringify(data);
  if (json.length < 64 * 1024) return ['-d', json];
  const dir = mkdtempSync(join(tmpdir(), 'ghz-data-'));
  const file = join(dir, 'data.json');
  writeFileSync(file, json);
  return ['-D', file];
}

/**
 * Successful calls per second over the whole run. ghz's `count` and `rps` leave out the first `skipped` calls
 * (--skipFirst) but its `total` keeps their time, so its rps reads low by skipped / all calls (8% for 64 x 10 skipped
 * of an 8 s run at 1,000/s); the skipped calls are counted back, at the run's share of OK.
 */
export function okPerSecond(
  report: Pick<GhzReport, 'count' | 'total' | 'statusCodeDistribution'>,
  skipped: number,
): number {
  const ok = report.statusCodeDistribution.OK ?? 0;
  if (report.count <= 0 || report.total <= 0) return 0;
  return ((ok / report.count) * (report.count + skipped)) / (report.total / 1e9);
}

/** Unary load from ghz at a fixed concurrency (or `rps`, open model) over `connections`, for `seconds`. */
export async function ghzUnary(opts: {
  name: string;
  host?: string;
  port: number;
  call: string;
  data: object;
  concurrency: number;
  seconds: number;
  payloadBytes: number;
  connections?: number;
  rps?: number;
}): Promise<LoadResult> {
  await ensureGhz();
  // The first calls warm the server and the connection up; they count in the rate, not in the latencies.
  const skipped = opts.concurrency * 10;
  const { stdout } = await run(
    GHZ,
    [
      '--insecure',
      '--proto',
      `${ROOT}proto/broker.proto`,
      '--import-paths',
      `${ROOT}proto`,
      '--call',
      opts.call,
      ...dataArgs(opts.data),
      '-c',
      String(opts.concurrency),
      '--connections',
      String(opts.connections ?? 1),
      '-z',
      `${opts.seconds}s`,
      '--format',
      'json',
      '--skipFirst',
      String(skipped),
      ...(opts.rps === undefined ? [] : ['--rps', String(opts.rps)]),
      `${opts.host ?? '127.0.0.1'}:${opts.port}`,
    ],
    { maxBuffer: 512 * 1024 * 1024 },
  );
  const report = JSON.parse(stdout) as GhzReport;
  // ghz's own distribution stops at p99; its per-request details give p99.9 through an HDR histogram.
  const h = latencyHistogram();
  for (const d of report.details ?? []) if (d.status === 'OK') h.recordValue(Math.max(1, Math.round(d.latency / 1000)));
  const at = (p: number): number =>
    h.totalCount > 0
      ? h.getValueAtPercentile(p) / 1000
      : (report.latencyDistribution?.find((d) => d.percentage === p)?.latency ?? 0) / 1e6;
  const ok = report.statusCodeDistribution.OK ?? 0;
  // When -z runs out, ghz closes its connection under the calls still in flight; they come back Unavailable or
  // Canceled ("use of closed network connection"). Up to `concurrency` of those are the cut-off, not failures.
  const cutOff = Math.min(
    opts.concurrency * (opts.connections ?? 1),
    (report.statusCodeDistribution.Unavailable ?? 0) + (report.statusCodeDistribution.Canceled ?? 0),
  );
  return {
    name: opts.name,
    ops: ok,
    opsPerSec: okPerSecond(report, skipped),
    mbPerSec: (okPerSecond(report, skipped) * opts.payloadBytes) / 1e6,
    p50Ms: at(50),
    p90Ms: at(90),
    p99Ms: at(99),
    p999Ms: at(99.9),
    maxMs: report.slowest / 1e6,
    errors: report.count - ok - cutOff,
  };
}

/**
 * PublishBatch load from ghz: `batch` messages of `payloadBytes` per call, `concurrency` calls in flight. Rates and
 * MB/s count messages (calls x batch); latencies are per call.
 */
export async function ghzPublishBatch(opts: {
  name: string;
  port: number;
  subject: string;
  batch: number;
  concurrency: number;
  seconds: number;
  payloadBytes: number;
}): Promise<LoadResult> {
  const body = Buffer.alloc(opts.payloadBytes, 1).toString('base64');
  const messages = Array.from({ length: opts.batch }, () => ({ subject: opts.subject, body, expirationSeconds: 0 }));
  const calls = await ghzUnary({
    name: opts.name,
    port: opts.port,
    call: 'broker.Broker/PublishBatch',
    data: { messages },
    concurrency: opts.concurrency,
    seconds: opts.seconds,
    payloadBytes: opts.payloadBytes * opts.batch,
  });
  return { ...calls, ops: calls.ops * opts.batch, opsPerSec: calls.opsPerSec * opts.batch };
}
