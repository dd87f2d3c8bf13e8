import { Metadata, credentials } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { tempLog } from '../../log/test-support/temp-log.js';
import { BrokerClient, type PublishResponse } from '../../proto/gen/broker.js';
import { ForwardingClient, type AppendResponse } from '../../proto/gen/internal.js';
import { FORWARDED_HEADER } from '../grpc/forwarded-dispatch.js';
import { BrokerService } from '../grpc/broker-service.js';
import { BrokerMetrics } from '../metrics/broker-metrics.js';
import { BrokerServer } from '../server/broker-server.js';
import { failure } from '../test-support/broker-process.js';
import { ownerSide } from '../workers/owner-side.js';
import { CLUSTER_TOKEN_HEADER, ClusterToken } from './cluster-token.js';

const logger = pino({ level: 'silent' });

function marked(token?: string): Metadata {
  const metadata = new Metadata();
  metadata.set(FORWARDED_HEADER, '1');
  if (token !== undefined) metadata.set(CLUSTER_TOKEN_HEADER, token);
  return metadata;
}

describe('ClusterToken on a cluster member port (BROKER_CLUSTER_TOKEN)', () => {
  let ctx: Awaited<ReturnType<typeof tempLog>>;
  let server: BrokerServer;
  let client: BrokerClient;
  let forwarding: ForwardingClient;

  before(async () => {
    ctx = await tempLog();
    const options = { retentionMs: 0, maxBodyBytes: 1024, maxSubscribers: 10, logger };
    const local = { writer: ctx.log, reader: ctx.log };
    const service = new BrokerService({ ...options, ...local, metrics: new BrokerMetrics(new Registry()) });
    server = new BrokerServer(service, {
      maxBodyBytes: 1024,
      connections: {
        maxConnections: 100,
        handshakeTimeoutMs: 5_000,
        maxConnectionIdleMs: 0,
        maxConnectionAgeMs: 0,
        maxConnectionAgeGraceMs: 0,
      },
      maxResponseBytes: 1024 * 1024,
      maxStreamsPerConnection: 100,
      shutdownTimeoutMs: 1_000,
      logger,
      forwarded: ownerSide(local, options, 'b0', logger),
      clusterToken: new ClusterToken('s3cret'),
    });
    const address = `127.0.0.1:${await server.listen('127.0.0.1', 0)}`;
    client = new BrokerClient(address, credentials.createInsecure());
    forwarding = new ForwardingClient(address, credentials.createInsecure());
  });

  after(async () => {
    client.close();
    forwarding.close();
    await server.close();
    await ctx.dispose();
  });

  const publish = (metadata: Metadata) =>
    new Promise<PublishResponse>((resolve, reject) =>
      client.publish({ subject: 'orders', body: Buffer.from('x'), expirationSeconds: 0 }, metadata, (err, res) =>
        err ? reject(err) : resolve(res),
      ),
    );

  it('should serve a client call that is not marked forwarded', async () => {
    assert.ok((await publish(new Metadata())).id >= 1);
  });

  it('should refuse a call marked forwarded without the token, UNAUTHENTICATED with a reason', async () => {
    const { code, reason, message } = failure(await publish(marked()).catch((e: unknown) => e));
    assert.equal(code, 16);
    assert.equal(reason, 'UNAUTHENTICATED');
    assert.match(message, /must carry the cluster token/);
  });

  it('should refuse a call marked forwarded with a wrong token', async () => {
    const { code, message } = failure(await publish(marked('guess')).catch((e: unknown) => e));
    assert.equal(code, 16);
    assert.match(message, /cluster token of this forwarded call is wrong/);
  });

  it('should answer a call marked forwarded with the token from the owner side', async () => {
    assert.ok((await publish(marked('s3cret'))).id >= 1);
  });

  it('should refuse broker.internal.Forwarding/Append without the token', async () => {
    const request = {
      messages: [{ subject: 'orders', body: Buffer.from('x'), expirationSeconds: 0, idempotencyKey: '' }],
    };
    const err = await new Promise<unknown>((resolve) =>
      forwarding.append(request, new Metadata(), (e: unknown, _res: AppendResponse) => resolve(e)),
    );
    assert.equal(failure(err).code, 16);
    assert.equal(failure(err).reason, 'UNAUTHENTICATED');
  });
});
