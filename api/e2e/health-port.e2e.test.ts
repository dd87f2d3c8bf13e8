import { credentials, makeClientConstructor, status, type ChannelCredentials, type Client } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { service as healthService } from 'grpc-health-check';
import { BrokerClient } from '../../proto/gen/broker.js';
import { makeTestPki, type CertFiles, type TestPki } from '../test-support/certificates.js';
import { failure, startBrokerProcess, type BrokerProcess } from '../test-support/broker-process.js';

const GRPCURL = fileURLToPath(new URL('../../.tools/bin/grpcurl', import.meta.url));

const AUTH_FILE = `identities:
  - name: orders
    certificates: ["CN=orders-svc"]
    permissions:
      publish: { allow: ["orders.>"] }
`;

type HealthClient = Client & {
  check(req: { service: string }, cb: (err: Error | null, res: { status: string }) => void): void;
};

/** grpc.health.v1.Health/Check of `service` at `address` with these credentials: its status, or the error's code. */
async function check(address: string, creds: ChannelCredentials, service = ''): Promise<string | number> {
  const Health = makeClientConstructor(healthService, 'grpc.health.v1.Health');
  const client = new Health(address, creds) as unknown as HealthClient;
  try {
    return await new Promise<string | number>((resolve) =>
      client.check({ service }, (err, res) => resolve(err ? failure(err).code : res.status)),
    );
  } finally {
    client.close();
  }
}

/** The port of the broker's 'health port listening' log line. */
function healthPortOf(broker: BrokerProcess): number {
  for (const line of broker.logLines) {
    const entry = JSON.parse(line) as { msg?: string; healthPort?: number };
    if (entry.msg === 'health port listening' && entry.healthPort !== undefined) return entry.healthPort;
  }
  throw new Error('the broker logged no health port');
}

describe('health port (BROKER_HEALTH_PORT) of a broker with mTLS and an auth file', () => {
  let pki: TestPki;
  let broker: BrokerProcess;
  let health: string;
  let orders: CertFiles;
  let ordersCreds: ChannelCredentials;

  before(async () => {
    pki = await makeTestPki();
    await writeFile(join(pki.dir, 'auth.yaml'), AUTH_FILE);
    broker = await startBrokerProcess({
      BROKER_TLS_CERT: pki.server.cert,
      BROKER_TLS_KEY: pki.server.key,
      BROKER_TLS_CLIENT_CA: pki.ca.cert,
      BROKER_AUTH_FILE: join(pki.dir, 'auth.yaml'),
      BROKER_HEALTH_PORT: '0',
    });
    health = `127.0.0.1:${healthPortOf(broker)}`;
    orders = await pki.issueClient('orders-svc');
    ordersCreds = credentials.createSsl(
      await readFile(pki.ca.cert),
      await readFile(orders.key),
      await readFile(orders.cert),
    );
  });

  after(async () => {
    await broker.dispose();
    await pki.dispose();
  });

  it('should answer SERVING without TLS or credentials, as the main port does for an authorised caller', async () => {
    assert.equal(await check(health, credentials.createInsecure()), 'SERVING');
    assert.equal(await check(health, credentials.createInsecure(), 'broker.Broker'), 'SERVING');
    assert.equal(await check(broker.address, ordersCreds), 'SERVING');
    assert.equal(await check(broker.address, ordersCreds, 'broker.Broker'), 'SERVING');
    // Envoy's health checks: a client certificate of the CA that names no identity (Envoy's own) gets the status too.
    const envoy = await pki.issueClient('envoy');
    const envoyCreds = credentials.createSsl(
      await readFile(pki.ca.cert),
      await readFile(envoy.key),
      await readFile(envoy.cert),
    );
    assert.equal(await check(broker.address, envoyCreds, 'broker.Broker'), 'SERVING');
    // The reason for the port: a plaintext probe of the main port is refused.
    assert.equal(await check(broker.address, credentials.createInsecure()), status.UNAUTHENTICATED);
  });

  it('should serve nothing else: a Publish to it is UNIMPLEMENTED, and it has no reflection', async () => {
    const client = new BrokerClient(health, credentials.createInsecure());
    try {
      const code = await new Promise<number>((resolve) =>
        client.publish({ subject: 'orders.x', body: Buffer.from('x'), expirationSeconds: 0 }, (err) =>
          resolve(err === null ? status.OK : failure(err).code),
        ),
      );
      assert.equal(code, status.UNIMPLEMENTED);
    } finally {
      client.close();
    }
    assert.ok(existsSync(GRPCURL), `${GRPCURL} is missing: npm test builds it (scripts/tools.sh grpcurl)`);
    const listed = await promisify(execFile)(GRPCURL, ['-plaintext', health, 'list']).then(
      () => 'listed',
      (err: { stderr: string }) => err.stderr,
    );
    assert.match(listed, /does not support the reflection API/);
  });

  it('should keep reflection working on the main port for an authorised caller', async () => {
    const tls = ['-cacert', pki.ca.cert, '-cert', orders.cert, '-key', orders.key];
    const list = await promisify(execFile)(GRPCURL, [...tls, broker.address, 'list']);
    assert.deepEqual(list.stdout.trim().split('\n').sort(), [
      'broker.Broker',
      'grpc.health.v1.Health',
      'grpc.reflection.v1.ServerReflection',
    ]);
  });

  it('should say NOT_SERVING on the health port while the broker drains', async () => {
    const Health = makeClientConstructor(healthService, 'grpc.health.v1.Health');
    const client = new Health(health, credentials.createInsecure()) as unknown as Client & {
      watch(req: { service: string }): NodeJS.EventEmitter;
    };
    const statuses: string[] = [];
    const call = client.watch({ service: '' });
    const notServing = new Promise<void>((resolve) =>
      call.on('data', (res: { status: string }) => {
        statuses.push(res.status);
        if (res.status === 'NOT_SERVING') resolve();
      }),
    );
    call.on('error', () => undefined);
    while (statuses.length === 0) await new Promise((r) => setTimeout(r, 20));
    broker.child.kill('SIGTERM');
    await notServing;
    client.close();
    assert.deepEqual(statuses.slice(0, 2), ['SERVING', 'NOT_SERVING']);
  });
});
