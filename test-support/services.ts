// Test support for tests that need the real servers scripts/services.sh starts (Redis, a CQL server): their
// addresses from the environment, random names that isolate each test on the shared servers, and outage helpers
// that stop and start one server on the same port.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../scripts/services.sh', import.meta.url));

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new Error(
      `${name} is not set: run via npm test, which starts the services (or: bash scripts/services.sh start && source .services/env)`,
    );
  }
  return value;
}

/** redis://127.0.0.1:port of the test Redis. */
export const testRedisUrl = (): string => required('TEST_REDIS_URL');
/** host:port of the test CQL server (Cassandra standing in for ScyllaDB). */
export const testCqlContactPoints = (): string[] =>
  required('TEST_CQL_CONTACT_POINTS')
    .split(',')
    .map((s) => s.trim());
export const testCqlLocalDc = (): string => process.env.TEST_CQL_LOCAL_DC ?? 'datacenter1';

/** A random lower-case name (letters, digits, _), to isolate each test's keyspace or queue on the shared servers. */
export function randomName(prefix: string): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

/** A random keyspace name valid in CQL (lower case, at most 48 characters). Drop it after the test. */
export function randomKeyspace(prefix = 'test'): string {
  return randomName(
    prefix
      .toLowerCase()
      .replace(/[^a-z0-9_]/g, '_')
      .slice(0, 30),
  );
}

/** A random BullMQ queue name or key prefix. Obliterate it after the test. */
export function randomQueueName(prefix = 'test'): string {
  return randomName(prefix);
}

async function services(command: string): Promise<void> {
  try {
    await run('bash', [SCRIPT, command], { env: process.env, timeout: 300_000 });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`scripts/services.sh ${command} failed: ${stderr.trim() || (err as Error).message}`, {
      cause: err,
    });
  }
}

/** Stops the CQL server (its state is kept); startCql brings it back on the same port. */
export const stopCql = (): Promise<void> => services('stop-cql');
/** Starts the CQL server on its remembered port and waits until it answers CQL. */
export const startCql = (): Promise<void> => services('start-cql');
export async function restartCql(): Promise<void> {
  await stopCql();
  await startCql();
}
export const stopRedis = (): Promise<void> => services('stop-redis');
export const startRedis = (): Promise<void> => services('start-redis');
export async function restartRedis(): Promise<void> {
  await stopRedis();
  await startRedis();
}
