// Issue 14, finding 3: ingest under a delivery overload, two or more builds alternated in one run (the machine is
// shared, so only figures of the same run compare). Each build is a directory holding dist/ and proto/ (a `git
// archive` of a commit built with `tsc -p tsconfig.build.json --outDir <dir>/dist`, or the working tree).
//
//   node --import tsx bench/ab-overload.ts --subscribers 1000 --rate 1000 --rounds 2 before=/tmp/a after=.
//
// Per round and build: the publisher's rate alone and under the overload, its ack p50/p99, deliveries/s while it
// ran, the share of acked x subscribers delivered, broker RSS and CPU-µs per delivery (bench/scenarios/overload.ts).
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { overload, threadNote, type OverloadFigures, type OverloadOptions } from './scenarios/overload.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    subscribers: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '1' },
    payload: { type: 'string', default: '100' },
    fsync: { type: 'string', default: 'batch' },
  },
});
const builds = positionals.map((p) => {
  const [name, dir] = p.split('=');
  if (name === undefined || dir === undefined) throw new Error(`a build is name=dir, not ${p}`);
  return { name, dir: resolve(dir) };
});
const options: OverloadOptions = {
  subscribers: Number(values.subscribers),
  rate: Number(values.rate),
  seconds: Number(values.seconds),
  warmup: Number(values.warmup),
  payload: Number(values.payload),
};

async function withBroker<T>(dir: string, work: (port: number, pid: number) => Promise<T>): Promise<T> {
  const data = await mkdtemp(join(tmpdir(), 'ab-overload-'));
  const env = { BROKER_DATA_DIR: data, BROKER_GRPC_PORT: '0', BROKER_METRICS_PORT: '-1' };
  const child = spawn(process.execPath, [join(dir, 'dist/api/cli.js'), 'serve'], {
    cwd: dir,
    env: { ...process.env, ...env, BROKER_GRPC_HOST: '127.0.0.1', BROKER_FSYNC: values.fsync },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const port = await new Promise<number>((ok, fail) => {
      child.once('exit', (code) => fail(new Error(`broker exited with ${code}`)));
      createInterface({ input: child.stdout }).on('line', (line) => {
        const m = /"grpcPort":(\d+).*"msg":"listening"/.exec(line);
        if (m !== null) ok(Number(m[1]));
      });
    });
    return await work(port, child.pid ?? -1);
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    await rm(data, { recursive: true, force: true });
  }
}

function line(name: string, round: number, f: OverloadFigures): string {
  const share = (f.loaded.opsPerSec / Math.max(1, f.solo.opsPerSec)) * 100;
  const rss = f.rss === undefined ? '' : `, RSS ${f.rss.startMb.toFixed(0)}->${f.rss.maxMb.toFixed(0)} MB`;
  return (
    `round ${round} ${name}: solo ${f.solo.opsPerSec.toFixed(0)}/s (p99 ${f.solo.p99Ms.toFixed(0)} ms); ` +
    `loaded ${f.loaded.opsPerSec.toFixed(0)}/s = ${share.toFixed(0)}%, ack p50 ${f.loaded.p50Ms.toFixed(0)} ms ` +
    `p99 ${f.loaded.p99Ms.toFixed(0)} ms; deliveries ${Math.round(f.deliveriesPerSec)}/s, ` +
    `${((f.delivered / Math.max(1, f.expected)) * 100).toFixed(1)}% of acked x subscribers${rss}, ` +
    `${(f.cpuUsPerDelivery ?? NaN).toFixed(1)} CPU-µs/delivery; machine (idle 1 ms timer) p99 ` +
    `${f.sched.solo.p99Ms.toFixed(1)} ms solo, ${f.sched.loaded.p99Ms.toFixed(1)} ms loaded` +
    (f.mainThread === undefined ? '' : `; ${threadNote(f.mainThread)}`)
  );
}

for (let round = 1; round <= Number(values.rounds); round++) {
  const order = round % 2 === 1 ? builds : [...builds].reverse();
  for (const { name, dir } of order) {
    const f = await withBroker(dir, (port, pid) => overload({ host: '127.0.0.1', port, pid }, options));
    console.log(line(name, round, f));
  }
}
