import { credentials, type Metadata, type ServiceError } from '@grpc/grpc-js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { BrokerClient, type MessageResponse, type PublishResponse, type SubjectInfo } from '../../proto/gen/broker.js';
import { errorReason } from '../grpc/status.js';

const CLI = fileURLToPath(new URL('../cli.ts', import.meta.url));

export interface BrokerProcess {
  readonly child: ChildProcess;
  readonly address: string;
  readonly metricsPort: number;
  readonly dataDir: string;
  /** The broker's stdout so far, one JSON log line per entry. */
  readonly logLines: readonly string[];
  client(): BrokerClient;
  /** Text of GET /metrics. */
  metrics(): Promise<string>;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** The pid of each worker by index, as the primary last logged it (empty for a broker of one process). */
  workerPids(): Map<number, number>;
  /** Starts a new broker process on the same data dir. */
  restart(env?: Record<string, string>): Promise<BrokerProcess>;
  dispose(): Promise<void>;
}

/**
 * Workers of the brokers these tests start, as users set it: BROKER_WORKERS from E2E_WORKERS (CI runs the e2e suite
 * once with 1 and once with 3), unless a test sets BROKER_WORKERS itself.
 */
const E2E_WORKERS = process.env.E2E_WORKERS;

/** Starts `broker serve` as a child process on free ports with a temp data dir (or the one given). */
export async function startBrokerProcess(env: Record<string, string> = {}, dataDir?: string): Promise<BrokerProcess> {
  const dir = dataDir ?? (await mkdtemp(join(tmpdir(), 'broker-e2e-')));
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve'], {
    env: {
      ...process.env,
      BROKER_DATA_DIR: dir,
      BROKER_GRPC_PORT: '0',
      BROKER_METRICS_PORT: '0',
      BROKER_GRPC_HOST: '127.0.0.1',
      BROKER_LOG_LEVEL: 'info',
      ...(E2E_WORKERS === undefined ? {} : { BROKER_WORKERS: E2E_WORKERS }),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so a SIGKILL takes its workers too, as a crash of the whole broker would.
    detached: true,
  });
  // A test runner that exits (--test-force-exit, a file's timeout) before dispose() must not leave the broker
  // running: orphaned brokers piled up and slowed every later start past its deadline.
  const reap = (): void => {
    if (child.pid !== undefined) killGroup(child.pid);
  };
  process.once('exit', reap);
  let stderr = '';
  const logLines: string[] = [];
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const started = new Promise<{ grpcPort: number; metricsPort: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker did not start in 30 s: ${stderr}`)), 30_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      logLines.push(line);
      try {
        const entry = JSON.parse(line) as { msg?: string; grpcPort?: number; metricsPort?: number };
        if (entry.msg === 'listening') {
          clearTimeout(timer);
          resolve({ grpcPort: entry.grpcPort!, metricsPort: entry.metricsPort! });
        }
      } catch {
        // not a log line
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`broker exited with ${code} before listening: ${stderr}`));
    });
  });
  // One that did not start in time is killed, not left starting.
  const ports = await started.catch((err: unknown) => {
    reap();
    process.off('exit', reap);
    throw err;
  });
  const address = `127.0.0.1:${ports.grpcPort}`;
  const clients: BrokerClient[] = [];
  const proc: BrokerProcess = {
    child,
    address,
    metricsPort: ports.metricsPort,
    dataDir: dir,
    logLines,
    client() {
      const c = new BrokerClient(address, credentials.createInsecure());
      clients.push(c);
      return c;
    },
    async metrics() {
      const res = await fetch(`http://127.0.0.1:${ports.metricsPort}/metrics`);
      return res.text();
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      if (signal === 'SIGKILL' && child.pid !== undefined) killGroup(child.pid);
      else child.kill(signal);
      const code = await exited;
      // Workers outlive a killed primary for as long as their own shutdown takes: wait for them to go.
      if (child.pid !== undefined) await groupGone(child.pid);
      process.off('exit', reap);
      return code;
    },
    workerPids() {
      const pids = new Map<number, number>();
      for (const line of logLines) {
        try {
          const entry = JSON.parse(line) as { msg?: string; worker?: number; pid?: number };
          if (entry.msg === 'worker serving' && entry.worker !== undefined && entry.pid !== undefined) {
            pids.set(entry.worker, entry.pid);
          }
        } catch {
          // not a log line
        }
      }
      return pids;
    },
    async restart(more = {}) {
      await proc.stop();
      for (const c of clients) c.close();
      return startBrokerProcess({ ...env, ...more }, dir);
    },
    async dispose() {
      for (const c of clients) c.close();
      await proc.stop('SIGKILL');
      if (dataDir === undefined) await rm(dir, { recursive: true, force: true });
    },
  };
  return proc;
}

export function publish(
  client: BrokerClient,
  subject: string,
  body: string | Buffer,
  expirationSeconds = 0,
): Promise<number> {
  return new Promise((resolve, reject) =>
    client.publish(
      { subject, body: Buffer.isBuffer(body) ? body : Buffer.from(body), expirationSeconds },
      (err: ServiceError | null, res: PublishResponse) => (err ? reject(err) : resolve(res.id)),
    ),
  );
}

export function fetchMessage(client: BrokerClient, subject: string, id: number): Promise<MessageResponse> {
  return new Promise((resolve, reject) =>
    client.fetch({ subject, id }, (err, res) => (err ? reject(err) : resolve(res))),
  );
}

export function getSubject(client: BrokerClient, subject: string): Promise<SubjectInfo> {
  return new Promise((resolve, reject) =>
    client.getSubject({ subject }, (err, res) => (err ? reject(err) : resolve(res))),
  );
}

/**
 * Retries `call` while it fails with one of `codes` (what a partition between owners answers: UNAVAILABLE, and
 * NOT_OWNER from a member a round behind), 200 ms apart, until `timeoutMs` has passed; then the last failure is thrown.
 */
export async function retryingWhile<T>(
  codes: readonly number[],
  timeoutMs: number,
  call: () => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await call();
    } catch (err) {
      if (!codes.includes(failure(err).code) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** The status code, reason and message of a failed call. */
export function failure(err: unknown): { code: number; reason: string | undefined; message: string } {
  const e = err as ServiceError & { metadata: Metadata };
  return { code: e.code, reason: errorReason(e), message: e.details };
}

/** Opens a Subscribe stream and resolves once the broker has registered it (its headers arrived). */
export async function subscribe(client: BrokerClient, subject: string, fromId = 0) {
  const stream = client.subscribe({ subject, fromId });
  const received: MessageResponse[] = [];
  let waiters: Array<() => void> = [];
  let ended: { code: number; reason: string | undefined; message: string } | 'end' | undefined;
  stream.on('data', (m: MessageResponse) => {
    received.push(m);
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  });
  const finish = (how: typeof ended): void => {
    ended ??= how;
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  stream.on('error', (err) => finish(failure(err)));
  stream.on('end', () => finish('end'));
  // Bounded: a stream that never gets its headers fails the test that opened it, not the whole file by timeout.
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Subscribe ${subject} got no headers in 30 s`)), 30_000);
    stream.once('metadata', () => {
      clearTimeout(timer);
      resolve();
    });
    stream.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  return {
    stream,
    received,
    get ended() {
      return ended;
    },
    /** Resolves when `count` messages have arrived (or the stream ended). */
    async waitFor(count: number, timeoutMs = 20_000): Promise<MessageResponse[]> {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count && ended === undefined) {
        if (Date.now() > deadline) throw new Error(`timed out with ${received.length} of ${count} messages`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 200);
        });
      }
      return received;
    },
    async waitEnd(timeoutMs = 20_000): Promise<typeof ended> {
      const deadline = Date.now() + timeoutMs;
      while (ended === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      return ended;
    },
  };
}

/**
 * A metric's value: the sum of its series (a broker of several workers has one per worker, labelled `worker`), or
 * undefined when it has none.
 */
export function metricValue(text: string, name: string): number | undefined {
  const lines = text.split('\n').filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  if (lines.length === 0) return undefined;
  return lines.reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Resolves once no process of the group is left (polls: a group has no exit event), or after 15 s. */
async function groupGone(pid: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    try {
      process.kill(-pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
