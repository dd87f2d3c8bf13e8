import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Metadata, status } from '@grpc/grpc-js';
import { SignJWT, exportSPKI, generateKeyPair } from 'jose';
import type { BrokerClient, ListSubjectsResponse } from '../../proto/gen/broker.js';
import { retryDelayMsOf, statusDetails } from '../grpc/status.js';
import {
  failure,
  metricValue,
  startBrokerProcess,
  subscribe,
  type BrokerProcess,
} from '../test-support/broker-process.js';

const TOKENS = {
  orders: 'tok-orders-1',
  auditor: 'tok-auditor-2',
  revoked: 'tok-revoked-3',
  slow: 'tok-slow-4',
  fast: 'tok-fast-5',
};
const sha = (t: string): string => `sha256:${createHash('sha256').update(t).digest('hex')}`;

function authFile(withRevoked: boolean): string {
  const revoked = withRevoked
    ? `  - name: revoked\n    tokens: ["${sha(TOKENS.revoked)}"]\n    permissions: { publish: { allow: [">"] } }\n`
    : '';
  return `jwt:
  publicKey: jwt.pem
  issuer: https://issuer.test
  audience: broker
  algorithms: [ES256]
identities:
  - name: orders
    tokens: ["${sha(TOKENS.orders)}"]
    permissions:
      publish: { allow: ["orders.>"], deny: ["orders.secret"] }
      subscribe: { allow: ["orders.*"] }
  - name: auditor
    tokens: ["${sha(TOKENS.auditor)}"]
    permissions:
      subscribe: { allow: [">"] }
      admin: { allow: [">"], deny: ["payments.>"] }
  - name: jwt-user
    permissions: { publish: { allow: ["jwt.>"] } }
  - name: slow
    tokens: ["${sha(TOKENS.slow)}"]
    permissions: { publish: { allow: ["quota.>"] } }
    quota: { publish: { messagesPerSecond: 20 } }
  - name: fast
    tokens: ["${sha(TOKENS.fast)}"]
    permissions: { publish: { allow: ["quota.>"] } }
${revoked}`;
}

function bearer(token: string | undefined): Metadata {
  const md = new Metadata();
  if (token !== undefined) md.set('authorization', `Bearer ${token}`);
  return md;
}

type Outcome = { code: number; reason?: string | undefined; retryMs?: number | undefined };

function call<T>(run: (done: (err: unknown, res?: T) => void) => void): Promise<Outcome & { res?: T }> {
  return new Promise((resolve) =>
    run((err, res) => {
      if (err === null) return resolve({ code: status.OK, ...(res === undefined ? {} : { res }) });
      const f = failure(err);
      const details = statusDetails((err as { metadata?: Metadata }).metadata);
      resolve({ code: f.code, reason: f.reason, retryMs: details === undefined ? undefined : retryDelayMsOf(details) });
    }),
  );
}

const ops = {
  publish: (c: BrokerClient, md: Metadata, subject: string) =>
    call((done) => c.publish({ subject, body: Buffer.from('x'), expirationSeconds: 0 }, md, done)),
  fetch: (c: BrokerClient, md: Metadata, subject: string) => call((done) => c.fetch({ subject, id: 1 }, md, done)),
  getSubject: (c: BrokerClient, md: Metadata, subject: string) => call((done) => c.getSubject({ subject }, md, done)),
};

describe('authentication, authorization and quotas (BROKER_AUTH_FILE)', () => {
  let dir: string;
  let broker: BrokerProcess;
  let client: BrokerClient;
  let privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'broker-auth-'));
    const keys = await generateKeyPair('ES256');
    privateKey = keys.privateKey;
    await writeFile(join(dir, 'jwt.pem'), await exportSPKI(keys.publicKey));
    await writeFile(join(dir, 'auth.yaml'), authFile(true));
    broker = await startBrokerProcess({ BROKER_AUTH_FILE: join(dir, 'auth.yaml') });
    client = broker.client();
    // Subjects for the reads below, published by identities that may.
    for (const s of ['orders.eu', 'orders.us'])
      assert.equal((await ops.publish(client, bearer(TOKENS.orders), s)).code, 0);
    assert.equal((await ops.publish(client, bearer(TOKENS.revoked), 'payments.tenantA')).code, 0);
  });
  after(async () => {
    await broker?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  function jwt(expiresIn: string | number): Promise<string> {
    return new SignJWT({})
      .setProtectedHeader({ alg: 'ES256' })
      .setSubject('jwt-user')
      .setIssuer('https://issuer.test')
      .setAudience('broker')
      .setIssuedAt()
      .setExpirationTime(expiresIn)
      .sign(privateKey);
  }

  describe('when a call carries no credentials or wrong ones', () => {
    it('should refuse it UNAUTHENTICATED', async () => {
      for (const md of [
        bearer(undefined),
        bearer('not-a-token'),
        bearer(await jwt(Math.floor(Date.now() / 1000) - 60)),
      ]) {
        const out = await ops.publish(client, md, 'orders.eu');
        assert.deepEqual([out.code, out.reason], [status.UNAUTHENTICATED, 'UNAUTHENTICATED']);
      }
    });
  });

  it('should answer the matrix of identity × operation × subject', async () => {
    const P = status.PERMISSION_DENIED;
    const matrix: Array<[keyof typeof TOKENS, keyof typeof ops, string, number]> = [
      ['orders', 'publish', 'orders.eu', 0],
      ['orders', 'publish', 'orders.eu.1', 0],
      ['orders', 'publish', 'orders.secret', P],
      ['orders', 'publish', 'payments.tenantA', P],
      ['orders', 'fetch', 'orders.eu', 0],
      ['orders', 'fetch', 'payments.tenantA', P],
      ['orders', 'getSubject', 'orders.eu', P],
      ['auditor', 'publish', 'orders.eu', P],
      ['auditor', 'fetch', 'payments.tenantA', 0],
      ['auditor', 'getSubject', 'orders.eu', 0],
      ['auditor', 'getSubject', 'payments.tenantA', P],
    ];
    const got = [];
    for (const [who, op, subject] of matrix) got.push((await ops[op](client, bearer(TOKENS[who]), subject)).code);
    assert.deepEqual(
      got,
      matrix.map((row) => row[3]),
    );
    const denied = await ops.publish(client, bearer(TOKENS.orders), 'orders.secret');
    assert.equal(denied.reason, 'NOT_AUTHORIZED');
    assert.equal((await ops.publish(client, bearer(await jwt('5m')), 'jwt.a')).code, 0);
    const counted = metricValue(await broker.metrics(), 'broker_auth_denials_total') ?? 0;
    assert.ok(counted >= 9, `denials counted: ${counted}`);
  });

  it('should list only the subjects the caller may read', async () => {
    const list = async (token: string): Promise<string[]> => {
      const out = await call<ListSubjectsResponse>((done) =>
        client.listSubjects({ prefix: '', pageSize: 100, pageToken: '' }, bearer(token), done),
      );
      return (out.res?.subjects ?? []).map((s) => s.subject).sort();
    };
    assert.deepEqual(await list(TOKENS.orders), ['orders.eu', 'orders.us']);
    assert.ok((await list(TOKENS.auditor)).includes('payments.tenantA'));
  });

  it('should slow a client above its publish quota to it, and not another identity', async (t) => {
    const rate = async (token: string, ms: number): Promise<{ ok: number; retries: number[] }> => {
      const md = bearer(token);
      const end = Date.now() + ms;
      const result = { ok: 0, retries: [] as number[] };
      while (Date.now() < end) {
        const out = await ops.publish(client, md, 'quota.a');
        if (out.code === 0) result.ok += 1;
        else {
          assert.equal(out.reason, 'QUOTA_EXCEEDED');
          result.retries.push(out.retryMs ?? -1);
          await new Promise((r) => setTimeout(r, out.retryMs ?? 10));
        }
      }
      return result;
    };
    // Four publishers per identity, each retrying after the delay it is told.
    const total = async (token: string): Promise<{ ok: number; retries: number[] }> => {
      const runs = await Promise.all([1, 2, 3, 4].map(() => rate(token, 2000)));
      return { ok: runs.reduce((n, r) => n + r.ok, 0), retries: runs.flatMap((r) => r.retries) };
    };
    const [slow, fast] = await Promise.all([total(TOKENS.slow), total(TOKENS.fast)]);
    t.diagnostic(`in 2 s: slow (20/s quota) ${slow.ok} publishes, fast (no quota) ${fast.ok}`);
    // 20/s with a burst of one second: at most 20 + 2 s × 20 in 2 s.
    assert.ok(slow.ok >= 40 && slow.ok <= 62, `slow published ${slow.ok} in 2 s`);
    assert.ok(slow.retries.length > 0 && slow.retries.every((ms) => ms > 0 && ms <= 50), String(slow.retries));
    assert.ok(fast.ok > 62, `fast published ${fast.ok} in 2 s, beyond what the quota would allow`);
  });

  it('should refuse a token revoked by a reload (SIGHUP) while an open stream of another identity goes on', async () => {
    const md = bearer(TOKENS.auditor);
    const stream = await subscribe(
      { subscribe: (req: { subject: string; fromId: number }) => client.subscribe(req, md) } as unknown as BrokerClient,
      'orders.eu',
    );
    await writeFile(join(dir, 'auth.yaml'), authFile(false));
    broker.child.kill('SIGHUP');
    const deadline = Date.now() + 10_000;
    let out = await ops.publish(client, bearer(TOKENS.revoked), 'orders.eu');
    while (out.code === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      out = await ops.publish(client, bearer(TOKENS.revoked), 'orders.eu');
    }
    assert.equal(out.code, status.UNAUTHENTICATED);
    const before = stream.received.length;
    assert.equal((await ops.publish(client, bearer(TOKENS.orders), 'orders.eu')).code, 0);
    const received = await stream.waitFor(before + 1);
    assert.equal(received.length, before + 1);
    assert.equal(stream.ended, undefined);
    stream.stream.cancel();
  });
});
