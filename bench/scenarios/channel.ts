// npm run bench -- channel [--seconds 3] [--rounds 3] [--in-flight 8]: the local channel between workers (issue 12),
// measured rather than assumed: broker.internal.Forwarding/Append calls to a server in another process that answers
// at once, over a unix socket and over TCP loopback, in interleaved cells (median of the rounds), with a batch of 1
// and of 64 publishes of 100 B per call. Reports calls/s, publishes/s, the server's CPU µs per publish and the
// client's latency. The workers use whichever wins (api/workers/worker-peer.ts: the unix socket).
import { credentials, Metadata } from '@grpc/grpc-js';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ForwardingClient, type AppendRequest } from '../../proto/gen/internal.js';
import type { ScenarioResult } from '../support/result.js';
import { latencyHistogram, medianBy, percentilesMs } from '../support/stats.js';
import { COMMON_OPTIONS } from './scenario.js';

const SERVER = fileURLToPath(new URL('../support/channel-server.ts', import.meta.url));
const CLOCK_TICKS = 100;

interface Cell {
  readonly transport: 'unix' | 'tcp';
  readonly batch: number;
  readonly callsPerSec: number;
  readonly publishesPerSec: number;
  readonly serverUsPerPublish: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

async function startServer(): Promise<{ pid: number; port: number; socket: string; stop(): void }> {
  const socket = join(tmpdir(), `bench-channel-${process.pid}.sock`);
  const child = spawn(process.execPath, ['--import', 'tsx', SERVER, socket], { stdio: ['ignore', 'pipe', 'inherit'] });
  const first = await new Promise<string>((resolve) => createInterface({ input: child.stdout }).once('line', resolve));
  const { port } = JSON.parse(first) as { port: number };
  return { pid: child.pid ?? 0, port, socket, stop: () => child.kill('SIGKILL') };
}

async function cell(
  address: string,
  transport: Cell['transport'],
  batch: number,
  seconds: number,
  inFlight: number,
  serverPid: number,
): Promise<Cell> {
  const client = new ForwardingClient(address, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  const request: AppendRequest = {
    messages: Array.from({ length: batch }, (_, i) => ({
      subject: `bench.channel.${i % 8}`,
      body: Buffer.alloc(100, 120),
      expirationSeconds: 0,
      idempotencyKey: '',
    })),
  };
  const once = (): Promise<void> =>
    new Promise((resolve, reject) =>
      client.append(request, new Metadata(), {}, (err) => (err ? reject(err) : resolve())),
    );
  for (let i = 0; i < 200; i++) await once(); // warm-up: connection, JIT
  const latency = latencyHistogram();
  let calls = 0;
  const cpuBefore = cpuSeconds(serverPid);
  const started = performance.now();
  const until = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < until) {
        const t = performance.now();
        await once();
        latency.recordValue(Math.max(1, Math.round((performance.now() - t) * 1000)));
        calls += 1;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const cpu = cpuSeconds(serverPid) - cpuBefore;
  client.close();
  const p = percentilesMs(latency);
  return {
    transport,
    batch,
    callsPerSec: calls / elapsed,
    publishesPerSec: (calls * batch) / elapsed,
    serverUsPerPublish: (cpu * 1e6) / (calls * batch),
    p50Ms: p.p50Ms,
    p99Ms: p.p99Ms,
  };
}

export async function run(args: string[]): Promise<ScenarioResult> {
  const { values } = parseArgs({
    args,
    options: {
      ...COMMON_OPTIONS,
      seconds: { type: 'string', default: '3' },
      rounds: { type: 'string', default: '3' },
      'in-flight': { type: 'string', default: '8' },
    },
  });
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  const inFlight = Number(values['in-flight']);
  const server = await startServer();
  const cells: Cell[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      for (const batch of [1, 64]) {
        cells.push(await cell(`unix:${server.socket}`, 'unix', batch, seconds, inFlight, server.pid));
        cells.push(await cell(`127.0.0.1:${server.port}`, 'tcp', batch, seconds, inFlight, server.pid));
      }
    }
  } finally {
    server.stop();
  }
  const median = (transport: Cell['transport'], batch: number): Cell =>
    medianBy(
      cells.filter((c) => c.transport === transport && c.batch === batch),
      (c) => c.publishesPerSec,
    );
  const rows = [1, 64].flatMap((batch) => {
    const unix = median('unix', batch);
    const tcp = median('tcp', batch);
    return [unix, tcp].map((c) => [
      c.transport,
      String(batch),
      Math.round(c.callsPerSec).toLocaleString('en'),
      Math.round(c.publishesPerSec).toLocaleString('en'),
      c.serverUsPerPublish.toFixed(1),
      c.p50Ms.toFixed(2),
      c.p99Ms.toFixed(2),
      c === unix ? `${(unix.publishesPerSec / tcp.publishesPerSec).toFixed(2)}x tcp` : '1.00x',
    ]);
  });
  return {
    heading: `Local channel between workers: Forwarding/Append answered at once, ${inFlight} calls in flight, 100 B publishes, ${seconds} s cells, median of ${rounds} interleaved rounds`,
    options: { seconds, rounds, inFlight },
    tables: [
      {
        kind: 'cells',
        columns: [
          'transport',
          'publishes/call',
          'calls/s',
          'publishes/s',
          'server CPU µs/publish',
          'p50 ms',
          'p99 ms',
          'publishes/s vs tcp',
        ],
        rows,
      },
    ],
  };
}
