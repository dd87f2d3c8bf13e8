// Servers a benchmark starts on loopback: the broker, a grpc-js echo server, nats-server, redis-server.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { trackPid } from './quiet.js';

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
  if (child.pid !== undefined) trackPid(child.pid, true);
  return async () => {
    if (child.pid !== undefined) trackPid(child.pid, false);
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

/** A broker this run started; `metricsPort` is -1 unless the env asked for /metrics (BROKER_METRICS_PORT=0: any). */
export interface RunningBroker extends Running {
  readonly metricsPort: number;
}

/**
 * The broker as `npm start` runs it, from the build (dist/api/cli.js: the bench scripts build first), on a free port
 * and a temp data dir; BENCH_BROKER=src runs the sources through tsx instead (its transpiler stays resident: about
 * 30 MB more RSS). The data dir is removed when it stops. Ready at its `"msg":"listening"` line: with BROKER_WORKERS
 * above 1 the primary logs it once every worker serves (each worker's own line says "worker listening").
 */
/** The node flags `npm start` and the image run the broker with (package.json, Dockerfile): measure what ships. */
const NODE_FLAGS = '--min-semi-space-size=16';

export async function startBroker(env: Record<string, string> = {}): Promise<RunningBroker> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-broker-'));
  const args =
    process.env.BENCH_BROKER === 'src'
      ? [NODE_FLAGS, '--import', 'tsx', join(ROOT, 'api/cli.ts'), 'serve']
      : [NODE_FLAGS, join(ROOT, 'dist/api/cli.js'), 'serve'];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: {
      ...process.env,
      BROKER_DATA_DIR: dir,
      BROKER_GRPC_PORT: '0',
      BROKER_METRICS_PORT: '-1',
      BROKER_GRPC_HOST: '127.0.0.1',
      BROKER_LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stop = stopper(child, () => rm(dir, { recursive: true, force: true }));
  // A broker that never says it listens (a timeout, a bad setting) is stopped here, not left running.
  const ready = await waitForLine(child, /"msg":"listening"/, 'broker').catch(async (err: unknown) => {
    await stop();
    throw err;
  });
  const line = ready.input ?? '';
  const field = (name: string): number => Number(new RegExp(`"${name}":(-?\\d+)`).exec(line)?.[1] ?? -1);
  return {
    port: field('grpcPort'),
    metricsPort: field('metricsPort'),
    pid: child.pid!,
    stop,
  };
}

/** The transport ceiling: a grpc-js server answering Publish at once (no storage), same process model. */
export async function startEcho(): Promise<Running> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/support/echo-server.ts')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const m = await waitForLine(child, /^echo listening (\d+)/, 'echo server');
  return { port: Number(m[1]), pid: child.pid!, stop: stopper(child, async () => undefined) };
}

/**
 * The Go peer: bench/loadgen's serve-peer mode, a grpc-go server of the same broker.proto on an in-memory store
 * (issue 14's "ours vs the Go peer"), built by scripts/tools.sh like loadgen itself.
 */
export async function startGoPeer(): Promise<Running> {
  execFileSync('bash', [join(ROOT, 'scripts/tools.sh'), 'loadgen'], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const child = spawn(join(ROOT, '.tools/bin/loadgen'), ['-mode', 'serve-peer', '-addr', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const m = await waitForLine(child, /^peer listening (\d+)/, 'Go peer');
  return { port: Number(m[1]), pid: child.pid!, stop: stopper(child, async () => undefined) };
}

/** Installs a missing peer from Debian's packages (as root, or through sudo), as a fresh machine lacks them. */
function need(binary: string, pkg: string): void {
  const has = (): boolean => {
    try {
      execFileSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  if (has()) return;
  const sudo = process.getuid?.() === 0 ? '' : 'sudo ';
  console.error(`${binary} is missing: ${sudo}apt-get install -y ${pkg}`);
  try {
    execFileSync(
      'sh',
      ['-c', `${sudo}apt-get install -y ${pkg} || (${sudo}apt-get update && ${sudo}apt-get install -y ${pkg})`],
      { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } },
    );
  } catch {
    // reported below
  }
  if (!has()) throw new Error(`${binary} is not installed and apt-get could not install it: apt-get install -y ${pkg}`);
}

/** NATS with JetStream on file storage in a temp dir. */
export async function startNats(): Promise<Running> {
  need('nats-server', 'nats-server');
  const dir = await mkdtemp(join(tmpdir(), 'bench-nats-'));
  const port = await freePort();
  const child = spawn('nats-server', ['-js', '-sd', dir, '-a', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await waitForLine(child, /Server is ready/, 'nats-server');
  return { port, pid: child.pid!, stop: stopper(child, () => rm(dir, { recursive: true, force: true })) };
}

/** Several servers of one cluster: `port` is the first one's client port, `pids` every server's. */
export interface RunningCluster extends Running {
  readonly pids: readonly number[];
}

/**
 * `size` nats-server processes on loopback forming one JetStream cluster (each its own store dir and name, routes to
 * all), so that a stream can have replicas (R3). Ready once every server is and one has been elected the
 * JetStream meta leader (before that, creating a stream fails).
 */
export async function startNatsCluster(size: number): Promise<RunningCluster> {
  need('nats-server', 'nats-server');
  const dir = await mkdtemp(join(tmpdir(), 'bench-nats-cluster-'));
  const ports = await Promise.all(Array.from({ length: size }, () => freePort()));
  const routePorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  const routes = routePorts.map((p) => `nats://127.0.0.1:${p}`).join(',');
  const children = ports.map((port, i) =>
    spawn(
      'nats-server',
      ['-js', '-sd', join(dir, `n${i}`), '-a', '127.0.0.1', '-p', String(port), '-n', `n${i}`].concat([
        '--cluster_name',
        'bench',
        '--cluster',
        `nats://127.0.0.1:${routePorts[i]}`,
        '--routes',
        routes,
      ]),
      { stdio: ['ignore', 'pipe', 'pipe'] },
    ),
  );
  const stops = children.map((c) => stopper(c, async () => undefined));
  const stop = async (): Promise<void> => {
    await Promise.all(stops.map((s) => s()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const leader = Promise.race(children.map((c) => waitForLine(c, /JetStream cluster new metadata leader/, 'leader')));
    await Promise.all(children.map((c) => waitForLine(c, /Server is ready/, 'nats-server')));
    await leader;
  } catch (err) {
    await stop();
    throw err;
  }
  return { port: ports[0] ?? 0, pid: children[0]?.pid ?? 0, pids: children.map((c) => c.pid ?? 0), stop };
}

/** Redis with the append-only file synced every second (Redis Streams' usual durable setting). */
export async function startRedis(): Promise<Running> {
  need('redis-server', 'redis-server');
  const dir = await mkdtemp(join(tmpdir(), 'bench-redis-'));
  const port = await freePort();
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--save',
      '',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  await waitForLine(child, /Ready to accept connections/, 'redis-server');
  return { port, pid: child.pid!, stop: stopper(child, () => rm(dir, { recursive: true, force: true })) };
}

/** Resident memory of a process in bytes (Linux). */
export function rssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    return kb === undefined ? 0 : Number(kb) * 1024;
  } catch {
    return 0;
  }
}

/** Samples a process's RSS every second, for a flat-memory check (growth over the second half of a run). */
export function sampleRss(pid: number): {
  stop(): { startMb: number; maxMb: number; endMb: number; secondHalfGrowthMb: number };
} {
  const samples: number[] = [rssBytes(pid)];
  const timer = setInterval(() => samples.push(rssBytes(pid)), 1000);
  return {
    stop() {
      clearInterval(timer);
      samples.push(rssBytes(pid));
      const mb = samples.map((b) => b / 1e6);
      const mid = mb[Math.floor(mb.length / 2)] ?? 0;
      return {
        startMb: mb[0] ?? 0,
        maxMb: Math.max(...mb),
        endMb: mb[mb.length - 1] ?? 0,
        secondHalfGrowthMb: (mb[mb.length - 1] ?? 0) - mid,
      };
    },
  };
}
