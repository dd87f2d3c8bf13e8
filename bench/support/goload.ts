// Runs bench/goload (a native load client: broker publisher + subscribers, or a peer's publisher; built by
// scripts/tools.sh into .tools/bin) and reads its JSON.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { LoadResult } from './workers.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const GOLOAD = `${ROOT}.tools/bin/goload`;

interface Summary {
  count: number;
  opsPerSec: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  errors: number;
}

export interface GoLoadOptions {
  /** broker (default), or a peer: nats (JetStream acked async publish), redis (XADD). */
  mode?: 'broker' | 'nats' | 'redis';
  host: string;
  port: number;
  subject: string;
  /** Messages per second (open model); 0 = closed loop with `inflight` per connection. */
  rate: number;
  inflight: number;
  connections: number;
  subscribers: number;
  seconds: number;
  warmup: number;
  payload: number;
}

/** The publisher's acks and the deliveries, both timed from each message's due time, without the warm-up. */
export async function goLoad(o: GoLoadOptions, names: { publisher: string; deliveries: string }): Promise<{ publisher: LoadResult; deliveries: LoadResult; expected: number }> {
  await run('bash', [`${ROOT}scripts/tools.sh`, 'goload'], { cwd: ROOT });
  const { stdout } = await run(
    GOLOAD,
    [
      '-mode', o.mode ?? 'broker', '-addr', `${o.host}:${o.port}`, '-subject', o.subject, '-rate', String(o.rate), '-inflight', String(o.inflight),
      '-connections', String(o.connections), '-subscribers', String(o.subscribers), '-seconds', String(o.seconds),
      '-warmup', String(o.warmup), '-payload', String(o.payload),
    ],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  const out = JSON.parse(stdout) as { publisher: Summary; deliveries: Summary; expected: number };
  const toResult = (name: string, s: Summary): LoadResult => ({
    name, ops: s.count, opsPerSec: s.opsPerSec, mbPerSec: (s.opsPerSec * o.payload) / 1e6,
    p50Ms: s.p50Ms, p90Ms: s.p90Ms, p99Ms: s.p99Ms, p999Ms: s.p999Ms, maxMs: s.maxMs, errors: s.errors,
  });
  return { publisher: toResult(names.publisher, out.publisher), deliveries: toResult(names.deliveries, out.deliveries), expected: out.expected };
}
