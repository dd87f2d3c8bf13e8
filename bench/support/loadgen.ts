// Runs bench/loadgen (the native load client: grpc-go PublishStream and Subscribe, nats.go, rueidis; built by
// scripts/tools.sh into .tools/bin) and turns its JSON into report rows.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LoadResult } from './report.js';
import { isQuiet } from './workers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LOADGEN = `${ROOT}.tools/bin/loadgen`;

/** One kind of operation over the measured window (after the warm-up); latencies in ms. */
export interface LoadgenSummary {
  count: number;
  opsPerSec: number;
  mbPerSec: number;
  /** Operations started in the window and completed before the drain ended: the ones in the percentiles. */
  measured: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

export interface LoadgenReport extends LoadgenSummary {
  mode: string;
  errors: number;
  firstError?: string;
  seconds: number;
  warmupSeconds: number;
  latencyFrom: string;
  unacked: number;
  unsent: number;
  streams?: number;
  /** e2e: the publisher's acks. */
  publisher?: LoadgenSummary;
  expected?: number;
  delivered?: number;
  deliveredFraction?: number;
  note: string;
}

export interface LoadgenOptions {
  /** stream: PublishStream; unary: Publish, `inflight` calls in flight per connection (closed loop only). */
  mode: 'stream' | 'unary' | 'subscribe' | 'e2e' | 'nats' | 'redis';
  host: string;
  port: number;
  subject: string;
  /** Connection c publishes to `${subject}.${c}`, as the Node load workers do. */
  subjectPerConnection?: boolean;
  subjects?: number;
  /** Messages per second in all (open model); 0 = closed loop. */
  rate: number;
  inflight: number;
  connections: number;
  streams?: number;
  /** Measured seconds, after `warmup`. */
  seconds: number;
  warmup: number;
  payload: number;
  drain?: number;
  /** nats: the stream's replicas (1 by default; 3 needs a JetStream cluster, startNatsCluster). */
  natsReplicas?: number;
  /** TLS: the CA the broker's certificate is checked with, and a client certificate for mTLS. */
  tls?: { ca: string; cert?: string; key?: string };
  /** Sent as `authorization: Bearer …` on every call. */
  token?: string;
}

/** Builds loadgen when its sources changed, runs it, and returns its report; its progress goes to stderr. */
export async function loadgen(o: LoadgenOptions): Promise<LoadgenReport> {
  await exec('bash', [`${ROOT}scripts/tools.sh`, 'loadgen']);
  const args = [
    '-mode',
    o.mode,
    '-addr',
    `${o.host}:${o.port}`,
    '-subject',
    o.subject,
    '-subjects',
    String(o.subjects ?? 1),
    `-subject-per-connection=${o.subjectPerConnection === true}`,
    '-rate',
    String(o.rate),
    '-inflight',
    String(o.inflight),
    '-connections',
    String(o.connections),
    '-streams',
    String(o.streams ?? 1),
    '-seconds',
    String(o.seconds),
    '-warmup',
    String(o.warmup),
    '-payload',
    String(o.payload),
    ...(o.drain === undefined ? [] : ['-drain', String(o.drain)]),
    ...(o.natsReplicas === undefined ? [] : ['-nats-replicas', String(o.natsReplicas)]),
    ...(o.tls === undefined ? [] : ['-tls-ca', o.tls.ca]),
    ...(o.tls?.cert === undefined ? [] : ['-cert', o.tls.cert]),
    ...(o.tls?.key === undefined ? [] : ['-key', o.tls.key]),
    ...(o.token === undefined ? [] : ['-token', o.token]),
  ];
  return JSON.parse(await exec(LOADGEN, args)) as LoadgenReport;
}

/** Runs a command with stdout collected and stderr passed through (or dropped under --json). */
function exec(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', isQuiet() ? 'ignore' : 'inherit'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(Buffer.concat(chunks).toString('utf8'))
        : reject(new Error(`${command} ${args.join(' ')} exited with ${code}`)),
    );
  });
}

/** A report row from one of loadgen's summaries (the top level, or the e2e publisher's). */
export function loadgenRow(name: string, s: LoadgenSummary, r: LoadgenReport): LoadResult {
  const notes = [
    r.unsent > 0 ? `${r.unsent.toLocaleString('en')} due but never sent (open model, window full)` : '',
    r.unacked > 0 ? `${r.unacked.toLocaleString('en')} unacknowledged at the end` : '',
    r.firstError === undefined ? '' : `first error: ${r.firstError}`,
  ].filter((n) => n !== '');
  return {
    name,
    ops: s.count,
    opsPerSec: s.opsPerSec,
    mbPerSec: s.mbPerSec,
    p50Ms: s.p50Ms,
    p90Ms: s.p90Ms,
    p99Ms: s.p99Ms,
    p999Ms: s.p999Ms,
    maxMs: s.maxMs,
    errors: r.errors,
    ...(notes.length > 0 ? { note: notes.join('; ') } : {}),
  };
}
