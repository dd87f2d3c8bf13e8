import { Metadata, credentials, type ChannelCredentials } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { tempLog } from '../../log/test-support/temp-log.js';
import { BrokerClient, type PublishResponse } from '../../proto/gen/broker.js';
import { ForwardingClient, type AppendResponse } from '../../proto/gen/internal.js';
import { FORWARDED_HEADER } from '../grpc/forwarded-dispatch.js';
import { CLUSTER_TOKEN_HEADER, ClusterToken } from '../security/cluster-token.js';
import { TlsFiles } from '../security/tls-files.js';
import { makeTestPki, type TestPki } from '../test-support/certificates.js';
import { failure } from '../test-support/broker-process.js';
import { ownerSide } from '../workers/owner-side.js';
import { WorkerTopology } from '../workers/worker-topology.js';
import { WorkerPeerEndpoint } from './worker-member.js';

const logger = pino({ level: 'silent' });
const config = { grpcHost: '127.0.0.1', peerPort: 0 };

function marked(token?: string): Metadata {
  const metadata = new Metadata();
  metadata.set(FORWARDED_HEADER, '1');
  if (token !== undefined) metadata.set(CLUSTER_TOKEN_HEADER, token);
  return metadata;
}

function publish(client: BrokerClient, metadata: Metadata): Promise<PublishResponse> {
  return new Promise((resolve, reject) =>
    client.publish({ subject: 'orders', body: Buffer.from('x'), expirationSeconds: 0 }, metadata, (err, res) =>
      err ? reject(err) : resolve(res),
    ),
  );
}

/** A worker's peer port (BROKER_PEER_PORT) over a real log, with the security given; closed by `dispose`. */
async function peerPort(security: ConstructorParameters<typeof WorkerPeerEndpoint>[3]) {
  const ctx = await tempLog();
  const options = { retentionMs: 0, maxBodyBytes: 1024, maxSubscribers: 10, logger };
  const local = { writer: ctx.log, reader: ctx.log };
  const owner = ownerSide(local, options, 'm1/w0', logger);
  const endpoint = new WorkerPeerEndpoint(new WorkerTopology(0, 2, 1, '/nonexistent', 'm1'), owner, logger, security);
  const address = await endpoint.listen(config, '127.0.0.1:1');
  return {
    address,
    dispose: async () => {
      await endpoint.close(1_000);
      await ctx.dispose();
    },
  };
}

describe("a cluster worker's peer port with BROKER_CLUSTER_TOKEN", () => {
  let port: Awaited<ReturnType<typeof peerPort>>;
  let client: BrokerClient;
  let forwarding: ForwardingClient;

  before(async () => {
    port = await peerPort({ clusterToken: new ClusterToken('s3cret') });
    client = new BrokerClient(port.address, credentials.createInsecure());
    forwarding = new ForwardingClient(port.address, credentials.createInsecure());
  });

  after(async () => {
    client.close();
    forwarding.close();
    await port.dispose();
  });

  it('should refuse a forwarded call without the token, UNAUTHENTICATED with a reason', async () => {
    const { code, reason, message } = failure(await publish(client, marked()).catch((e: unknown) => e));
    assert.equal(code, 16);
    assert.equal(reason, 'UNAUTHENTICATED');
    assert.match(message, /must carry the cluster token/);
  });

  it('should refuse a call not marked forwarded, and a wrong token', async () => {
    assert.equal(failure(await publish(client, new Metadata()).catch((e: unknown) => e)).code, 16);
    assert.equal(failure(await publish(client, marked('guess')).catch((e: unknown) => e)).code, 16);
  });

  it('should refuse broker.internal.Forwarding/Append without the token', async () => {
    const request = {
      messages: [{ subject: 'orders', body: Buffer.from('x'), expirationSeconds: 0, idempotencyKey: '' }],
    };
    const err = await new Promise<unknown>((resolve) =>
      forwarding.append(request, new Metadata(), (e: unknown, _res: AppendResponse) => resolve(e)),
    );
    assert.equal(failure(err).code, 16);
  });

  it('should serve a forwarded call with the token', async () => {
    assert.ok((await publish(client, marked('s3cret'))).id >= 1);
  });
});

describe("a cluster worker's peer port with TLS (a certificate of the peer CA required)", () => {
  let pki: TestPki;
  let files: TlsFiles;
  let port: Awaited<ReturnType<typeof peerPort>>;
  const clients: BrokerClient[] = [];

  const clientWith = (creds: ChannelCredentials): BrokerClient => {
    const client = new BrokerClient(port.address, creds, { 'grpc.use_local_subchannel_pool': 1 });
    clients.push(client);
    return client;
  };

  before(async () => {
    pki = await makeTestPki();
    files = await TlsFiles.open({ ...pki.server, ca: pki.ca.cert }, 60_000, logger);
    port = await peerPort({ tls: files });
  });

  after(async () => {
    for (const client of clients) client.close();
    await port.dispose();
    files.close();
    await pki.dispose();
  });

  it("should serve a member presenting a certificate of the peer CA, and refuse one that presents none or a foreign CA's", async () => {
    const ca = await readFile(pki.ca.cert);
    const [key, cert] = await Promise.all([readFile(pki.client.key), readFile(pki.client.cert)]);
    assert.ok((await publish(clientWith(credentials.createSsl(ca, key, cert)), marked())).id >= 1);
    const anonymous = failure(await publish(clientWith(credentials.createSsl(ca)), marked()).catch((e: unknown) => e));
    assert.equal(anonymous.code, 14);
    const plaintext = failure(
      await publish(clientWith(credentials.createInsecure()), marked()).catch((e: unknown) => e),
    );
    assert.equal(plaintext.code, 14);
  });
});
