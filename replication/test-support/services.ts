import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../../scripts/services.sh', import.meta.url));

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new Error(`${name} is not set: run the suite with \`npm test\`, which starts Redis and the CQL server (scripts/services.sh)`);
  }
  return value;
}

export const testRedisUrl = (): string => required('TEST_REDIS_URL');
export const testCqlContactPoints = (): string[] => required('TEST_CQL_CONTACT_POINTS').split(',');
export const testCqlLocalDc = (): string => process.env.TEST_CQL_LOCAL_DC ?? 'datacenter1';

/** A random lower-case name, to isolate each test's keyspace or queue on the shared servers. */
export function randomName(prefix: string): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

async function services(command: string): Promise<void> {
  await run('bash', [SCRIPT, command], { env: process.env });
}

export const stopCql = (): Promise<void> => services('stop-cql');
export const startCql = (): Promise<void> => services('start-cql');
export const stopRedis = (): Promise<void> => services('stop-redis');
export const startRedis = (): Promise<void> => services('start-redis');
