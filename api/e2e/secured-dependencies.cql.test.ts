// Issue 15, the broker's dependencies with security on: a real broker process against Redis on a TLS port with an
// ACL user, and a CQL server with PasswordAuthenticator and client encryption, both started by this file
// (scripts/services.sh with SERVICES_SECURED=1, in a state dir of their own) and stopped at its end.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { randomKeyspace, randomName, randomQueueName } from '../../test-support/services.js';
import { getSubject, healthStatus, waitFor } from '../test-support/dependency-outages.js';
import { publish, startBrokerProcess } from '../test-support/broker-process.js';

const run = promisify(execFile);
const SERVICES = new URL('../../scripts/services.sh', import.meta.url).pathname;
// Beside the caller's services (CI's .services, a helper's own dir), never the same dir: those run unsecured.
const DIR = `${process.env.SERVICES_DIR ?? join(process.cwd(), '.services')}-secured`;

interface Secured {
  readonly redisUrl: string;
  readonly cqlContactPoints: string;
  readonly ca: string;
  readonly redisUsername: string;
  readonly redisPassword: string;
  readonly cqlUsername: string;
  readonly cqlPassword: string;
}

async function startSecuredServices(): Promise<Secured> {
  await run('bash', [SERVICES, 'start'], {
    env: { ...process.env, SERVICES_DIR: DIR, SERVICES_SECURED: '1' },
    timeout: 600_000,
  });
  const vars = new Map<string, string>();
  for (const line of (await readFile(join(DIR, 'env'), 'utf8')).split('\n')) {
    const m = /^export (\w+)=(.*)$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) vars.set(m[1], m[2]);
  }
  const get = (name: string): string => vars.get(name) ?? assert.fail(`${name} missing from ${DIR}/env`);
  return {
    redisUrl: get('TEST_REDIS_URL'),
    cqlContactPoints: get('TEST_CQL_CONTACT_POINTS'),
    ca: get('TEST_TLS_CA'),
    redisUsername: get('TEST_REDIS_USERNAME'),
    redisPassword: get('TEST_REDIS_PASSWORD'),
    cqlUsername: get('TEST_CQL_USERNAME'),
    cqlPassword: get('TEST_CQL_PASSWORD'),
  };
}

describe('broker with secured dependencies (Redis TLS + ACL user, CQL authentication + TLS)', () => {
  let s: Secured;
  let secrets: string;

  before(async () => {
    s = await startSecuredServices();
    secrets = await mkdtemp(join(tmpdir(), 'broker-secrets-'));
  });

  after(async () => {
    await run('bash', [SERVICES, 'stop'], { env: { ...process.env, SERVICES_DIR: DIR } });
  });

  /** Secret files as Kubernetes mounts them (with a trailing newline, as `echo` writes one). */
  async function secretFile(name: string, value: string): Promise<string> {
    const path = join(secrets, name);
    await writeFile(path, `${value}\n`, { mode: 0o600 });
    return path;
  }

  async function cqlEnv(password: string): Promise<Record<string, string>> {
    return {
      SCYLLA_CONTACT_POINTS: s.cqlContactPoints,
      SCYLLA_KEYSPACE: randomKeyspace('secured'),
      SCYLLA_USERNAME: s.cqlUsername,
      SCYLLA_PASSWORD_FILE: await secretFile(randomName('cql'), password),
      SCYLLA_TLS_CA: s.ca,
    };
  }

  async function redisEnv(password: string, prefix: string): Promise<Record<string, string>> {
    return {
      REDIS_URL: s.redisUrl,
      REDIS_USERNAME: s.redisUsername,
      REDIS_PASSWORD_FILE: await secretFile(randomName('redis'), password),
      REDIS_TLS_CA: s.ca,
      BROKER_QUEUE_PREFIX: prefix,
    };
  }

  it('should replicate through the authenticated TLS CQL server and run its jobs on the TLS Redis', async () => {
    const prefix = randomQueueName('secured');
    const broker = await startBrokerProcess({
      ...(await cqlEnv(s.cqlPassword)),
      ...(await redisEnv(s.redisPassword, prefix)),
      BROKER_CLUSTER: randomName('sec'),
      BROKER_ID: 'secured-1',
      BROKER_COMPACTION_INTERVAL: '500ms',
      BROKER_SEGMENT_MAX_RECORDS: '5',
      BROKER_WORKERS: '1',
    });
    try {
      const client = broker.client();
      for (let i = 1; i <= 11; i++) await publish(client, 'secured.kept', `record ${i}`);
      for (let i = 1; i <= 10; i++) await publish(client, 'secured.expiring', `short ${i}`, 1);
      await publish(client, 'secured.expiring', 'stays');
      const replicated = await waitFor(
        'replication of two sealed segments',
        async () => ((await getSubject(client, 'secured.kept')).replicatedSegments >= 2 ? true : undefined),
        60_000,
      );
      const compacted = await waitFor(
        'compaction of the expired records',
        async () => ((await getSubject(client, 'secured.expiring')).firstId > 10 ? true : undefined),
        60_000,
      );
      assert.ok(replicated.value && compacted.value);
      assert.equal(await healthStatus(broker.address, 'broker.ColdTier'), 'SERVING');
      // The jobs went through Redis, not the in-process fallback: the broker's queues are there, under its prefix.
      const redis = new Redis(s.redisUrl, {
        username: s.redisUsername,
        password: s.redisPassword,
        tls: { ca: await readFile(s.ca, 'utf8') },
      });
      try {
        assert.ok((await redis.keys(`${prefix}:secured-1-*`)).length > 0, 'BullMQ keys under the prefix');
      } finally {
        redis.disconnect();
      }
    } finally {
      await broker.dispose();
    }
  });

  it('should stop at start with INVALID_CONFIG naming SCYLLA_PASSWORD when the CQL server refuses it', async () => {
    const started = startBrokerProcess({
      ...(await cqlEnv('not-the-password')),
      BROKER_CLUSTER: randomName('sec'),
      BROKER_ID: 'secured-2',
      BROKER_WORKERS: '1',
    });
    await assert.rejects(started, (err: Error) => {
      assert.match(err.message, /exited with 2 before listening/);
      assert.match(err.message, /error: INVALID_CONFIG: SCYLLA_PASSWORD: .*refused SCYLLA_USERNAME\/SCYLLA_PASSWORD/);
      return true;
    });
  });

  it('should stop at start with INVALID_CONFIG naming SCYLLA_TLS_CA when the CQL certificate is not of that CA', async () => {
    const otherCa = join(secrets, 'other-ca.pem');
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=another CA',
      '-keyout',
      join(secrets, 'other-ca.key'),
      '-out',
      otherCa,
    ]);
    const started = startBrokerProcess({
      ...(await cqlEnv(s.cqlPassword)),
      SCYLLA_TLS_CA: otherCa,
      BROKER_CLUSTER: randomName('sec'),
      BROKER_ID: 'secured-4',
      BROKER_WORKERS: '1',
    });
    await assert.rejects(started, (err: Error) => {
      assert.match(err.message, /exited with 2 before listening/);
      assert.match(err.message, /error: INVALID_CONFIG: SCYLLA_TLS_CA: .*does not check out against SCYLLA_TLS_CA/);
      return true;
    });
  });

  it('should say once that Redis refused its credentials and still compact in process', async () => {
    const broker = await startBrokerProcess({
      ...(await redisEnv('not-the-password', randomQueueName('secured'))),
      BROKER_ID: 'secured-3',
      BROKER_COMPACTION_INTERVAL: '500ms',
      BROKER_SEGMENT_MAX_RECORDS: '5',
      BROKER_WORKERS: '1',
    });
    try {
      const client = broker.client();
      for (let i = 1; i <= 10; i++) await publish(client, 'secured.fallback', `short ${i}`, 1);
      await publish(client, 'secured.fallback', 'stays');
      await waitFor(
        'compaction with Redis refusing the broker',
        async () => ((await getSubject(client, 'secured.fallback')).firstId > 10 ? true : undefined),
        60_000,
      );
      const refusals = broker.logLines.filter((l) => l.includes('Redis refused the broker'));
      assert.equal(refusals.length, 1, 'logged once, not at every reconnect');
      assert.match(refusals[0] ?? '', /"level":50/);
      assert.match(refusals[0] ?? '', /WRONGPASS/);
    } finally {
      await broker.dispose();
    }
  });
});
