// What bounds PublishBatch (issue 14): one broker as `npm start` runs it (dist/, so build first), ghz PublishBatch
// calls of --batch messages of --payload bytes from one connection with --calls in flight for --seconds, and over
// the load: the rate, the broker's CPU from /proc (main thread and whole process), the time its LevelDB batch writes
// took (broker_log_batch_write_seconds) and the machine's busy share (/proc/stat). Main-thread busy plus write busy
// near 100% says the rounds are serial (every call in flight rides one commit); writes near 100% say LevelDB is.
//
//   node --import tsx bench/batch-bound.ts --fsync batch --calls 16
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ghzPublishBatch } from './support/ghz.js';
import { cpuDuring } from './support/proc-cpu.js';
import { startBroker } from './support/processes.js';

const { values } = parseArgs({
  options: {
    fsync: { type: 'string', default: 'batch' },
    calls: { type: 'string', default: '16' },
    batch: { type: 'string', default: '100' },
    payload: { type: 'string', default: '1024' },
    seconds: { type: 'string', default: '10' },
  },
});
const seconds = Number(values.seconds);

/** broker_log_batch_write_seconds' sum and count, summed over its series. */
async function writeTime(metricsPort: number): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const total = (suffix: string): number =>
    text
      .split('\n')
      .filter((l) => l.startsWith(`broker_log_batch_write_seconds_${suffix}`))
      .reduce((s, l) => s + Number(l.split(' ').pop()), 0);
  return { sum: total('sum'), count: total('count') };
}

/** Busy and total jiffies of all CPUs. */
function machine(): { busy: number; total: number } {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0] = f;
  return { busy: user + nice + system + irq + softirq, total: user + nice + system + idle + iowait + irq + softirq };
}

const broker = await startBroker({ BROKER_FSYNC: values.fsync, BROKER_METRICS_PORT: '0' });
try {
  const w0 = await writeTime(broker.metricsPort);
  const m0 = machine();
  const [load, cpu] = await Promise.all([
    ghzPublishBatch({
      name: 'batch-bound',
      port: broker.port,
      subject: 'bench.batch-bound',
      batch: Number(values.batch),
      concurrency: Number(values.calls),
      seconds,
      payloadBytes: Number(values.payload),
    }),
    cpuDuring(broker.pid, 0, seconds * 1000),
  ]);
  const m1 = machine();
  const w1 = await writeTime(broker.metricsPort);
  const commits = w1.count - w0.count;
  const pct = (x: number): string => `${Math.round(100 * x)}%`;
  console.log(
    [
      `fsync ${values.fsync}, ${values.calls} calls of ${values.batch} x ${values.payload} B in flight:`,
      `${Math.round(load.opsPerSec).toLocaleString('en-US')} msg/s;`,
      `main thread ${pct(cpu.mainUs / 1e6 / cpu.seconds)} busy, process ${pct(cpu.processUs / 1e6 / cpu.seconds)} of a core;`,
      `LevelDB writes ${pct((w1.sum - w0.sum) / cpu.seconds)} of the time (${commits} commits,`,
      `${Math.round(load.ops / Math.max(1, commits))} records and ${(((w1.sum - w0.sum) / Math.max(1, commits)) * 1000).toFixed(1)} ms each);`,
      `machine ${pct((m1.busy - m0.busy) / (m1.total - m0.total))} busy;`,
      `${(cpu.processUs / load.ops).toFixed(1)} CPU-µs per message (main ${(cpu.mainUs / load.ops).toFixed(1)})`,
    ].join(' '),
  );
} finally {
  await broker.stop();
}
