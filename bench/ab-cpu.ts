// A/B of the broker's CPU per message between two builds, alternated in one run (the machine is shared, so rates
// drift; CPU-µs per message from /proc drifts much less). Each build is a directory holding dist/ and proto/ (the
// working tree, or a copy built from an earlier commit with `tsc -p tsconfig.build.json --outDir <dir>/dist`).
//
//   node --import tsx bench/ab-cpu.ts --mode stream --rounds 3 --seconds 6 before=/tmp/a after=.
//   node --import tsx bench/ab-cpu.ts --mode e2e --streams 100 --rate 1000 --payload 100 before=/tmp/a after=.
//
//   node --import tsx bench/ab-cpu.ts --mode unary --connections 1 before=/tmp/a after=. echo=@echo
//
// `@echo` stands for the grpc-js echo (bench/support/echo-server.ts, run through tsx): the transport's own cost in
// the same run, so "after minus echo" is what the broker owns beyond grpc-js.
//
// Prints, per round and build: ops/s (acks, or deliveries for e2e), main-thread CPU-µs per op (/proc/<pid>/task/<pid>)
// and whole-process CPU-µs per op (/proc/<pid>: V8, libuv's pool, LevelDB), over loadgen's measured window.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const LOADGEN = join(ROOT, '.tools/bin/loadgen');
const TICK_US = 10_000; // USER_HZ = 100
const ECHO = '@echo';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    mode: { type: 'string', default: 'stream' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '6' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '2' },
    inflight: { type: 'string', default: '64' },
    streams: { type: 'string', default: '100' },
    rate: { type: 'string', default: '0' },
    payload: { type: 'string', default: '1024' },
    fsync: { type: 'string', default: 'batch' },
  },
});
const builds = positionals.map((p) => {
  const [name, dir] = p.split('=');
  if (name === undefined || dir === undefined) throw new Error(`a build is name=dir, not ${p}`);
  return { name, dir: dir === ECHO ? ECHO : resolve(dir) };
});

function ticks(path: string): number {
  const fields = readFileSync(path, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return Number(fields[11]) + Number(fields[12]);
}

type Server = { pid: number; port: number; stop: () => Promise<void> };

/** The grpc-js echo server, started the way bench/scenarios start it (tsx), answering on a free port. */
async function startEcho(): Promise<Server> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/support/echo-server.ts')], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((ok, fail) => {
    child.once('exit', (code) => fail(new Error(`echo exited with ${code}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /^echo listening (\d+)/.exec(line);
      if (m !== null) ok(Number(m[1]));
    });
  });
  const stop = async (): Promise<void> => {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  return { pid: child.pid ?? -1, port, stop };
}

async function startBroker(dir: string): Promise<Server> {
  const data = await mkdtemp(join(tmpdir(), 'ab-cpu-'));
  const child = spawn(process.execPath, [join(dir, 'dist/api/cli.js'), 'serve'], {
    cwd: dir,
    env: {
      ...process.env,
      BROKER_DATA_DIR: data,
      BROKER_GRPC_PORT: '0',
      BROKER_METRICS_PORT: '-1',
      BROKER_GRPC_HOST: '127.0.0.1',
      BROKER_FSYNC: values.fsync,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((ok, fail) => {
    child.once('exit', (code) => fail(new Error(`broker exited with ${code}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /"grpcPort":(\d+).*"msg":"listening"/.exec(line);
      if (m !== null) ok(Number(m[1]));
    });
  });
  const stop = async (): Promise<void> => {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    await rm(data, { recursive: true, force: true });
  };
  return { pid: child.pid ?? -1, port, stop };
}

interface Report {
  opsPerSec: number;
  errors: number;
  publisher?: { opsPerSec: number };
}

async function load(port: number): Promise<Report> {
  const mode = values.mode;
  const args = ['-mode', mode, '-addr', `127.0.0.1:${port}`, '-subject', 'ab.cpu'];
  args.push('-seconds', values.seconds, '-warmup', values.warmup, '-payload', values.payload, '-drain', '2');
  args.push('-rate', values.rate, '-inflight', values.inflight);
  if (mode === 'e2e')
    args.push('-streams', values.streams, '-connections', String(Math.ceil(Number(values.streams) / 250)));
  else args.push('-connections', values.connections);
  const child = spawn(LOADGEN, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  const chunks: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => chunks.push(c));
  await new Promise((r) => child.once('close', r));
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Report;
}

async function measure(dir: string): Promise<{ ops: number; mainUs: number; allUs: number; errors: number }> {
  const b = dir === ECHO ? await startEcho() : await startBroker(dir);
  try {
    const done = load(b.port);
    const warm = Number(values.warmup) * 1000;
    // e2e opens its subscribers first; the window starts after them, so the CPU window starts a little later too.
    await new Promise((r) => setTimeout(r, warm + (values.mode === 'e2e' ? 500 : 100)));
    const m0 = ticks(`/proc/${b.pid}/task/${b.pid}/stat`);
    const a0 = ticks(`/proc/${b.pid}/stat`);
    await new Promise((r) => setTimeout(r, Number(values.seconds) * 1000 - 200));
    const m1 = ticks(`/proc/${b.pid}/task/${b.pid}/stat`);
    const a1 = ticks(`/proc/${b.pid}/stat`);
    const r = await done;
    const secs = Number(values.seconds) - 0.2;
    const ops = r.opsPerSec;
    return {
      ops,
      mainUs: ((m1 - m0) * TICK_US) / secs / ops,
      allUs: ((a1 - a0) * TICK_US) / secs / ops,
      errors: r.errors,
    };
  } finally {
    await b.stop();
  }
}

const rows: Record<string, { ops: number[]; main: number[]; all: number[] }> = {};
for (let round = 0; round < Number(values.rounds); round++) {
  const order = round % 2 === 0 ? builds : [...builds].reverse();
  for (const { name, dir } of order) {
    const m = await measure(dir);
    const row = (rows[name] ??= { ops: [], main: [], all: [] });
    row.ops.push(m.ops);
    row.main.push(m.mainUs);
    row.all.push(m.allUs);
    console.log(
      `round ${round + 1} ${name}: ${Math.round(m.ops)} ops/s, main ${m.mainUs.toFixed(1)} µs/op, ` +
        `process ${m.allUs.toFixed(1)} µs/op, errors ${m.errors}`,
    );
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
for (const [name, r] of Object.entries(rows)) {
  console.log(
    `median ${name}: ${Math.round(median(r.ops))} ops/s, main ${median(r.main).toFixed(1)} µs/op, ` +
      `process ${median(r.all).toFixed(1)} µs/op`,
  );
}
