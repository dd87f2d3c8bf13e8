import { Metadata, credentials } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { BrokerClient, type PublishResponse } from '../../proto/gen/broker.js';
import { randomName, testCqlContactPoints, testCqlLocalDc } from '../../test-support/services.js';
import { FORWARDED_HEADER } from '../grpc/forwarded-dispatch.js';
import { makeTestPki, type CertFiles, type TestPki } from '../test-support/certificates.js';
import {
  failure,
  fetchMessage,
  publish,
  startBrokerProcess,
  subscribe,
  type BrokerProcess,
  getSubject,
  retryingWhile,
} from '../test-support/broker-process.js';
import { CLUSTER_TOKEN_HEADER } from './cluster-token.js';

const KEYSPACE = 'broker_cluster_e2e';
const LEASE_MS = 2_000;
const TOKEN = 'peers-s3cret';

let pki: TestPki;
const clients: BrokerClient[] = [];

before(async () => {
  pki = await makeTestPki();
});

after(async () => {
  for (const client of clients) client.close();
  await pki.dispose();
});

/** A TLS client of `address` trusting `ca`, presenting `own` when given, on a connection of its own. */
async function tlsClient(address: string, ca: string, own?: CertFiles): Promise<BrokerClient> {
  const [caPem, key, cert] = await Promise.all([
    readFile(ca),
    own === undefined ? null : readFile(own.key),
    own === undefined ? null : readFile(own.cert),
  ]);
  const client = new BrokerClient(address, credentials.createSsl(caPem, key, cert), {
    'grpc.use_local_subchannel_pool': 1,
  });
  clients.push(client);
  return client;
}

/** Retries what a partition between owners answers UNAVAILABLE or NOT_OWNER (FAILED_PRECONDITION). */
const retrying = <T>(call: () => Promise<T>, timeoutMs = 8 * LEASE_MS): Promise<T> =>
  retryingWhile([14, 9], timeoutMs, call);

function startMember(cluster: string, id: string, env: Record<string, string>): Promise<BrokerProcess> {
  return startBrokerProcess({
    BROKER_WORKERS: '1',
    BROKER_CLUSTER: cluster,
    BROKER_ID: id,
    BROKER_PARTITIONS: '8',
    BROKER_LEASE: `${LEASE_MS / 1000}s`,
    BROKER_MAX_CLOCK_DRIFT: '200ms',
    SCYLLA_CONTACT_POINTS: testCqlContactPoints().join(','),
    SCYLLA_LOCAL_DC: testCqlLocalDc(),
    SCYLLA_KEYSPACE: KEYSPACE,
    ...env,
  });
}

/** Log entries of a broker (its workers' included) with the given message. */
function logged(broker: BrokerProcess, msg: string): Array<Record<string, unknown>> {
  return broker.logLines.flatMap((line) => {
    try {
      const entry = JSON.parse(line) as Record<string, unknown>;
      return entry.msg === msg ? [entry] : [];
    } catch {
      return [];
    }
  });
}

/** Waits until every broker has acquired a partition (placement gives each newcomer its share a round later). */
async function settled(brokers: readonly BrokerProcess[], acquirers: number): Promise<void> {
  const deadline = Date.now() + 10 * LEASE_MS;
  for (;;) {
    const count = brokers.map((b) => new Set(logged(b, 'partition acquired').map((e) => e.pid)).size);
    if (count.reduce((a, b) => a + b, 0) >= acquirers && count.every((n) => n > 0)) return;
    if (Date.now() > deadline) throw new Error(`the cluster did not settle: acquirers ${count.join(', ')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('a cluster with TLS, mTLS and the cluster token (one member of one process, one of two workers)', () => {
  const cluster = randomName('tls');
  let members: BrokerProcess[] = [];
  let viaM1: BrokerClient;
  let viaM2: BrokerClient;

  before(async () => {
    const tls = {
      BROKER_TLS_CERT: pki.server.cert,
      BROKER_TLS_KEY: pki.server.key,
      BROKER_TLS_CLIENT_CA: pki.ca.cert,
      BROKER_CLUSTER_TOKEN: TOKEN,
    };
    members = await Promise.all([
      startMember(cluster, 'm1', tls),
      startMember(cluster, 'm2', { ...tls, BROKER_WORKERS: '2' }),
    ]);
    await settled(members, 3);
    viaM1 = await tlsClient(members[0]!.address, pki.ca.cert, pki.client);
    viaM2 = await tlsClient(members[1]!.address, pki.ca.cert, pki.client);
  });

  after(async () => {
    for (const m of members) await m.dispose();
  });

  it('should forward publishes, reads and subscriptions between the members over TLS', async () => {
    const subjects = Array.from({ length: 8 }, (_, i) => `${cluster}.s${i}`);
    const owners = new Map<string, string>();
    for (const subject of subjects) {
      assert.equal(await retrying(() => publish(viaM1, subject, `${subject}#1`)), 1);
      assert.equal(await retrying(() => publish(viaM2, subject, `${subject}#2`)), 2);
      for (const via of [viaM1, viaM2]) {
        assert.equal((await retrying(() => fetchMessage(via, subject, 2))).body.toString(), `${subject}#2`);
      }
      owners.set(subject, (await retrying(() => getSubject(viaM2, subject))).owner);
    }
    const names = [...owners.values()];
    assert.ok(names.includes('m1') && names.some((o) => o.startsWith('m2/w')), `owners: ${names.join(', ')}`);
    // A subscriber on m2 of a subject m1 owns: an upstream subscription over the members' TLS channel.
    const ofM1 = subjects.find((s) => owners.get(s) === 'm1') as string;
    const sub = await retrying(() => subscribe(viaM2, ofM1, 1));
    await retrying(() => publish(viaM1, ofM1, 'live'));
    const got = await sub.waitFor(3);
    sub.stream.cancel();
    assert.equal(got[2]?.body.toString(), 'live');
  });

  it("should refuse a call to a worker's peer port without the cluster token (UNAUTHENTICATED)", async () => {
    const joined = logged(members[1]!, 'joined the cluster').find((e) => e.member === 'm2/w0');
    const address = joined?.address as string;
    assert.match(address, /^127\.0\.0\.1:\d+$/);
    const peer = await tlsClient(address, pki.ca.cert, pki.client);
    const call = (metadata: Metadata) =>
      new Promise<PublishResponse>((resolve, reject) =>
        peer.publish({ subject: `${cluster}.x`, body: Buffer.from('x'), expirationSeconds: 0 }, metadata, (e, r) =>
          e ? reject(e) : resolve(r),
        ),
      );
    const marked = new Metadata();
    marked.set(FORWARDED_HEADER, '1');
    const { code, reason, message } = failure(await call(marked).catch((e: unknown) => e));
    assert.equal(code, 16);
    assert.equal(reason, 'UNAUTHENTICATED');
    assert.match(message, /cluster token/);
    marked.set(CLUSTER_TOKEN_HEADER, TOKEN);
    // With the token the worker answers as the owner: an id, or NOT_OWNER when another member owns the subject.
    const answered = await call(marked).then(
      () => 0,
      (e: unknown) => failure(e).code,
    );
    assert.ok(answered === 0 || answered === 9, `status ${answered}`);
  });
});

describe('a member whose certificate another CA signed', () => {
  const cluster = randomName('tlsx');
  let good: BrokerProcess;
  let foreign: BrokerProcess;
  let viaGood: BrokerClient;
  let viaForeign: BrokerClient;

  before(async () => {
    const foreignCert = await pki.issueServer('foreign-member', pki.otherCa);
    [good, foreign] = await Promise.all([
      startMember(cluster, 'good', {
        BROKER_TLS_CERT: pki.server.cert,
        BROKER_TLS_KEY: pki.server.key,
        BROKER_TLS_CLIENT_CA: pki.ca.cert,
      }),
      // It trusts the cluster's CA, but the cluster does not trust its certificate.
      startMember(cluster, 'foreign', {
        BROKER_TLS_CERT: foreignCert.cert,
        BROKER_TLS_KEY: foreignCert.key,
        BROKER_TLS_PEER_CA: pki.ca.cert,
      }),
    ]);
    await settled([good, foreign], 2);
    viaGood = await tlsClient(good.address, pki.ca.cert, pki.client);
    viaForeign = await tlsClient(foreign.address, pki.otherCa.cert);
  });

  after(async () => {
    await good.dispose();
    await foreign.dispose();
  });

  /** Publishes to each subject through `via` until one fails; resolves with what it failed with. */
  async function firstRefusal(via: BrokerClient): Promise<ReturnType<typeof failure>> {
    for (let i = 0; i < 16; i++) {
      const err = await publish(via, `${cluster}.s${i}`, 'x').then(
        () => undefined,
        (e: unknown) => e,
      );
      if (err !== undefined) return failure(err);
    }
    throw new Error('every publish went through: no subject of the other member was tried');
  }

  it('should not call a member whose server certificate fails the peer CA: UNAVAILABLE naming it and why', async (t) => {
    const { code, message } = await firstRefusal(viaGood);
    t.diagnostic(message);
    assert.equal(code, 14, message);
    assert.match(message, /foreign/);
    assert.match(message, /certificate/i);
  });

  it('should be refused by the members when it presents its certificate as a client: UNAVAILABLE', async (t) => {
    const { code, message } = await firstRefusal(viaForeign);
    t.diagnostic(message);
    assert.equal(code, 14, message);
    assert.match(message, /good/);
  });
});
