// Servers a benchmark starts on loopback: the broker, a grpc-js echo server, nats-server, redis-server.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Running {
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function stopper(child: ChildProcess, cleanup: () => Promise<void>): () => Promise<void> {
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await cleanup();
  };
}

async function waitForLine(child: ChildProcess, pattern: RegExp, what: string): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start in 30 s`)), 30_000);
    const onLine = (line: string): void => {
      const m = pattern.exec(line);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    if (child.stdout) createInterface({ input: child.stdout }).on('line', onLine);
    if (child.stderr) createInterface({ input: child.stderr }).on('line', onLine);
    child.once('exit', (code) => reject(new Error(`${what} exited with ${code}`)));
  });
}

/** The broker from the build (dist/), as users run it, on a temp data dir. */
export async function startBroker(env: Record<string, string> = {}): Promise<Running> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-broker-'));
  const child = spawn(process.execPath, [join(ROOT, 'dist/api/cli.js'), 'serve'], {
    env: { ...process.env, BROKER_DATA_DIR: dir, BROKER_GRPC_PORT: '0', BROKER_METRICS_PORT: '-1', BROKER_GRPC_HOST: '127.0.0.1', BROKER_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const m = await waitForLine(child, /"grpcPort":(\d+)/, 'broker');
  return { port: Number(m[1]), pid: child.pid!, stop: stopper(child, () => rm(dir, { recursive: true, force: true })) };
}

/** The transport ceiling: a grpc-js server answering Publish at once (no storage), same process model. */
export async function startEcho(): Promise<Running> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/support/echo-server.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const m = await waitForLine(child, /^echo listening (\d+)/, 'echo server');
  return { port: Number(m[1]), pid: child.pid!, stop: stopper(child, async () => undefined) };
}

function need(binary: string, pkg: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${binary}`]);
  } catch {
    throw new Error(`${binary} is not installed: apt-get install -y ${pkg}`);
  }
}

/** NATS with JetStream on file storage in a temp dir. */
export async function startNats(): Promise<Running> {
  need('nats-server', 'nats-server');
  const dir = await mkdtemp(join(tmpdir(), 'bench-nats-'));
  const port = await freePort();
  const child = spawn('nats-server', ['-js', '-sd', dir, '-a', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  await waitForLine(child, /Server is ready/, 'nats-server');
  return { port, pid: child.pid!, stop: stopper(child, () => rm(dir, { recursive: true, force: true })) };
}

/** Redis with the append-only file synced every second (Redis Streams' usual durable setting). */
export async function startRedis(): Promise<Running> {
  need('redis-server', 'redis-server');
  const dir = await mkdtemp(join(tmpdir(), 'bench-redis-'));
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', ''], { stdio: ['ignore', 'pipe', 'pipe'] });
  await waitForLine(child, /Ready to accept connections/, 'redis-server');
  return { port, pid: child.pid!, stop: stopper(child, () => rm(dir, { recursive: true, force: true })) };
}

/** Resident memory of a process in bytes (Linux). */
export function rssBytes(pid: number): number {
  try {
    const status = execFileSync('cat', [`/proc/${pid}/status`]).toString();
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    return kb === undefined ? 0 : Number(kb) * 1024;
  } catch {
    return 0;
  }
}
