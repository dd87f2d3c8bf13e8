import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Metadata, credentials, status } from '@grpc/grpc-js';
import { BrokerClient, type ListSubjectsResponse } from '../../proto/gen/broker.js';
import { makeTestPki, type CertFiles, type TestPki } from '../test-support/certificates.js';
import { failure, startBrokerProcess, type BrokerProcess } from '../test-support/broker-process.js';

const TOKEN = 'tok-holder-1';
const sha = (t: string): string => `sha256:${createHash('sha256').update(t).digest('hex')}`;

const AUTH_FILE = `identities:
  - name: orders
    certificates: ["CN=orders-svc"]
    permissions:
      publish: { allow: ["orders.>"] }
      subscribe: { allow: ["orders.*"] }
  - name: auditor
    certificates: ["URI:spiffe://test/auditor"]
    permissions:
      subscribe: { allow: [">"] }
      admin: { allow: [">"] }
  - name: token-holder
    tokens: ["${sha(TOKEN)}"]
    permissions: { publish: { allow: ["tok.>"] } }
`;

type Outcome = { code: number; reason?: string | undefined; subjects?: string[] };

function outcome(done: (out: Outcome) => void) {
  return (err: unknown, res?: ListSubjectsResponse | object): void => {
    if (err === null) {
      const subjects = res !== undefined && 'subjects' in res ? res.subjects.map((s) => s.subject) : undefined;
      return done({ code: status.OK, ...(subjects === undefined ? {} : { subjects }) });
    }
    const f = failure(err);
    done({ code: f.code, reason: f.reason });
  };
}

const ops = {
  publish: (c: BrokerClient, md: Metadata, subject: string) =>
    new Promise<Outcome>((r) => c.publish({ subject, body: Buffer.from('x'), expirationSeconds: 0 }, md, outcome(r))),
  fetch: (c: BrokerClient, md: Metadata, subject: string) =>
    new Promise<Outcome>((r) => c.fetch({ subject, id: 1 }, md, outcome(r))),
  getSubject: (c: BrokerClient, md: Metadata, subject: string) =>
    new Promise<Outcome>((r) => c.getSubject({ subject }, md, outcome(r))),
  list: (c: BrokerClient, md: Metadata) =>
    new Promise<Outcome>((r) => c.listSubjects({ prefix: '', pageSize: 100, pageToken: '' }, md, outcome(r))),
};

describe('mTLS identities (BROKER_TLS_CLIENT_CA with BROKER_AUTH_FILE)', () => {
  let pki: TestPki;
  let broker: BrokerProcess;
  const clients: BrokerClient[] = [];
  const none = new Metadata();
  const connect = async (own: CertFiles): Promise<BrokerClient> => {
    const creds = credentials.createSsl(await readFile(pki.ca.cert), await readFile(own.key), await readFile(own.cert));
    const client = new BrokerClient(broker.address, creds, { 'grpc.use_local_subchannel_pool': 1 });
    clients.push(client);
    return client;
  };
  let as: Record<'orders' | 'auditor' | 'stranger', BrokerClient>;

  before(async () => {
    pki = await makeTestPki();
    await writeFile(join(pki.dir, 'auth.yaml'), AUTH_FILE);
    broker = await startBrokerProcess({
      BROKER_TLS_CERT: pki.server.cert,
      BROKER_TLS_KEY: pki.server.key,
      BROKER_TLS_CLIENT_CA: pki.ca.cert,
      BROKER_AUTH_FILE: join(pki.dir, 'auth.yaml'),
    });
    as = {
      // Named by its CN, by a URI subjectAltName (SPIFFE), and by neither (a certificate of the CA all the same).
      orders: await connect(await pki.issueClient('orders-svc')),
      auditor: await connect(await pki.issueClient('auditor', 'URI:spiffe://test/auditor')),
      stranger: await connect(await pki.issueClient('stranger')),
    };
  });
  after(async () => {
    for (const client of clients) client.close();
    await broker?.dispose();
    await pki?.dispose();
  });

  it("should give a client certificate's identity exactly its permissions", async () => {
    const P = status.PERMISSION_DENIED;
    const matrix: Array<[keyof typeof as, 'publish' | 'fetch' | 'getSubject', string, number]> = [
      ['orders', 'publish', 'orders.eu', 0],
      ['orders', 'publish', 'payments.a', P],
      ['orders', 'fetch', 'orders.eu', 0],
      ['orders', 'getSubject', 'orders.eu', P],
      ['auditor', 'publish', 'orders.eu', P],
      ['auditor', 'fetch', 'orders.eu', 0],
      ['auditor', 'getSubject', 'orders.eu', 0],
    ];
    const got: Outcome[] = [];
    for (const [who, op, subject] of matrix) got.push(await ops[op](as[who], none, subject));
    assert.deepEqual(
      got.map((o) => o.code),
      matrix.map((row) => row[3]),
    );
    assert.ok(got.filter((o) => o.code === P).every((o) => o.reason === 'NOT_AUTHORIZED'));
    assert.deepEqual((await ops.list(as.orders, none)).subjects, ['orders.eu']);
  });

  it('should refuse an identity-less certificate without a token UNAUTHENTICATED, and take a token over it', async () => {
    for (const out of [await ops.publish(as.stranger, none, 'orders.eu'), await ops.list(as.stranger, none)]) {
      assert.deepEqual(out, { code: status.UNAUTHENTICATED, reason: 'UNAUTHENTICATED' });
    }
    const md = new Metadata();
    md.set('authorization', `Bearer ${TOKEN}`);
    assert.equal((await ops.publish(as.stranger, md, 'tok.a')).code, status.OK);
    assert.equal((await ops.publish(as.stranger, md, 'orders.eu')).code, status.PERMISSION_DENIED);
  });
});
