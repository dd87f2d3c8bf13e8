// npm run bench -- idle: --subscribers idle Subscribe streams (default 10,000), nothing published: the broker's RSS
// with them open, next to a grpc-js echo server holding the same streams (the transport's floor). Target: < 200 MB.
import { rssBytes, sampleRss, startEcho } from '../support/processes.js';
import { cpuMark, foreignPercent, waitForQuiet } from '../support/quiet.js';
import type { Row } from '../support/report.js';
import type { ScenarioResult } from '../support/result.js';
import { limitVerdict } from '../support/verdict.js';
import { startWorkers, withProgress } from '../support/workers.js';
import { BrokerBench, onServer, type Target } from './broker-bench.js';
import { parseLoadSettings } from './load-settings.js';

const RSS_TARGET_MB = 200;

/** N idle subscribers spread over --subjects subjects: the server's RSS with all of them open. */
async function idle(b: BrokerBench, t: Target, count: number, label = 'broker'): Promise<Row> {
  if (t.pid === undefined)
    throw new Error('idle needs a broker started by this run (no --target): it reads the broker RSS');
  const s = b.s;
  const busy = await waitForQuiet();
  const mark = cpuMark();
  const before = rssBytes(t.pid) / 1e6;
  const started = Date.now();
  const hold = Math.max(5, s.seconds);
  const subs = startWorkers(b.subscribers(t, 'bench.idle', count, hold, s.subjects));
  await withProgress(`opening ${count.toLocaleString('en')} idle subscribers`, 0, subs, subs.ready);
  const openMs = Date.now() - started;
  const rss = sampleRss(t.pid);
  await withProgress(`holding ${count.toLocaleString('en')} idle subscribers`, hold, subs, subs.done);
  const mem = rss.stop();
  const target = label === 'broker' ? ` (target < ${RSS_TARGET_MB} MB: ${limitVerdict(mem.maxMb, RSS_TARGET_MB)})` : '';
  return {
    name: `${label}: ${count.toLocaleString('en')} idle Subscribe streams on ${s.subjects.toLocaleString('en')} subject(s)`,
    ops: count,
    opsPerSec: count / (openMs / 1000),
    mbPerSec: 0,
    p50Ms: 0,
    p90Ms: 0,
    p99Ms: 0,
    p999Ms: 0,
    maxMs: openMs,
    errors: 0,
    ratio: `RSS ${before.toFixed(0)} MB idle -> max ${mem.maxMb.toFixed(0)} / end ${mem.endMb.toFixed(0)} MB with streams open (+${(((mem.maxMb - before) * 1e3) / count).toFixed(1)} KB per stream)${target}; ops/s = streams opened per second, max ms = time to open all; foreign CPU ${foreignPercent(mark).toFixed(0)}% during, ${busy.toFixed(0)}% busy before`,
  };
}

export async function run(args: string[]): Promise<ScenarioResult> {
  const b = new BrokerBench(parseLoadSettings(args));
  const n = b.s.subscribers ?? 10_000;
  const broker = await b.onBroker((t) => idle(b, t, n));
  const echo = await onServer(startEcho, (srv) =>
    idle(b, { host: '127.0.0.1', port: srv.port, pid: srv.pid }, n, 'grpc-js echo server'),
  );
  return b.result('idle', [broker, echo]);
}
