// npm run bench -- compare: broker PublishStream and PublishBatch (fsync never and batch) against NATS JetStream and
// Redis Streams with the same payload and concurrency, and broker unary Publish against a grpc-js echo server
// (both from ghz); every ratio is to the broker, with the targets' verdicts.
import { ghzPublishBatch, ghzUnary } from '../support/ghz.js';
import { loadgen, loadgenRow } from '../support/loadgen.js';
import { startEcho, startNats, startRedis } from '../support/processes.js';
import type { LoadResult, Row } from '../support/report.js';
import type { ScenarioResult } from '../support/result.js';
import { percentOf, ratioVerdict, times } from '../support/verdict.js';
import { measured } from '../support/workers.js';
import { BrokerBench, onServer } from './broker-bench.js';
import { parseLoadSettings } from './load-settings.js';

/** A peer on loopback with the same load shape; NATS needs its stream created first (also the targets scenario's). */
export async function peer(b: BrokerBench, kind: 'nats' | 'redis-xadd', label: string): Promise<LoadResult> {
  const s = b.s;
  return onServer(kind === 'nats' ? startNats : startRedis, async (srv) => {
    if (s.client === 'go') {
      // loadgen creates the JetStream stream itself; its Redis client (rueidis, one TCP connection per connection)
      // pipelines the in-flight commands like ioredis. One subject / key per connection, as the Node workers use.
      const name = `${label.replace(', ioredis', ', rueidis').replace('js.publish', 'nats.go PublishAsync')} (loadgen), ${b.model()}`;
      return measured(async () => {
        const r = await loadgen({
          mode: kind === 'nats' ? 'nats' : 'redis',
          host: '127.0.0.1',
          port: srv.port,
          subject: 'bench.peer',
          subjectPerConnection: true,
          rate: 0,
          inflight: s.inflight,
          connections: s.connections,
          seconds: s.seconds,
          warmup: s.warmup,
          payload: s.payload,
        });
        return loadgenRow(name, r, r);
      });
    }
    if (kind === 'nats') {
      const { connect, StorageType } = await import('nats');
      const nc = await connect({ servers: `127.0.0.1:${srv.port}` });
      const jsm = await nc.jetstreamManager();
      await jsm.streams.add({ name: 'BENCH', subjects: ['bench.>'], storage: StorageType.File });
      await nc.close();
    }
    return b.run(`${label}, ${b.model()}`, b.tasks(kind, { host: '127.0.0.1', port: srv.port }, 'bench.peer'));
  });
}

async function compare(b: BrokerBench): Promise<Row[]> {
  const s = b.s;
  const never = await b.onBroker((t) => b.publishStream(t, 'broker fsync=never'), 'never');
  const batch = await b.onBroker((t) => b.publishStream(t, 'broker fsync=batch'), 'batch');
  const nats = await peer(b, 'nats', 'NATS JetStream (file store), js.publish acked, window = in flight');
  const redis = await peer(b, 'redis-xadd', 'Redis Streams XADD (AOF everysec), ioredis');
  // Batching at the RPC level, from ghz: what a producer that batches (as Kafka's do) gets out of the broker.
  const batchArgs = (port: number, fsync: string): Parameters<typeof ghzPublishBatch>[0] => ({
    name: `broker fsync=${fsync}: PublishBatch of 100, ghz 1 conn x 16 calls (messages/s, latency per call)`,
    port,
    subject: 'bench.batch',
    batch: 100,
    concurrency: 16,
    seconds: s.seconds,
    payloadBytes: s.payload,
  });
  const batchNever = await b.onBroker((t) => measured(() => ghzPublishBatch(batchArgs(t.port, 'never'))), 'never');
  const batchBatch = await b.onBroker((t) => measured(() => ghzPublishBatch(batchArgs(t.port, 'batch'))), 'batch');
  // Unary: both through ghz, a native client, so the figure is the server's and not the Node client's ceiling.
  const unaryArgs = (port: number, name: string): Parameters<typeof ghzUnary>[0] => ({
    name,
    port,
    call: 'broker.Broker/Publish',
    data: { subject: 'bench.unary', body: Buffer.alloc(s.payload, 1).toString('base64'), expirationSeconds: 0 },
    concurrency: 64,
    seconds: s.seconds,
    payloadBytes: s.payload,
  });
  const unary = await b.onBroker(
    (t) => measured(() => ghzUnary(unaryArgs(t.port, 'broker fsync=batch: unary Publish, ghz 1 conn x 64'))),
    'batch',
  );
  const echo = await onServer(startEcho, (srv) =>
    measured(() => ghzUnary(unaryArgs(srv.port, 'grpc-js echo server: unary Publish, ghz 1 conn x 64'))),
  );
  const target = (what: string, measuredRate: number, reference: number, atLeast: number): string =>
    `${what}: ${ratioVerdict(measuredRate, reference, atLeast)}`;
  return [
    {
      ...never,
      ratio: `1.00x (reference); ${times(never.opsPerSec, nats.opsPerSec)} NATS (${target('target >= 1.5x', never.opsPerSec, nats.opsPerSec, 1.5)}); ${times(never.opsPerSec, redis.opsPerSec)} Redis (${target('target >= 0.75x', never.opsPerSec, redis.opsPerSec, 0.75)})`,
    },
    {
      ...batch,
      ratio: `${times(batch.opsPerSec, never.opsPerSec)} of fsync=never; ${times(batch.opsPerSec, nats.opsPerSec)} NATS (${target('target >= 1.0x', batch.opsPerSec, nats.opsPerSec, 1)}); ${times(batch.opsPerSec, redis.opsPerSec)} Redis`,
    },
    {
      ...nats,
      ratio: `${times(nats.opsPerSec, never.opsPerSec)} of broker fsync=never, ${times(nats.opsPerSec, batch.opsPerSec)} of fsync=batch`,
    },
    {
      ...redis,
      ratio: `${times(redis.opsPerSec, never.opsPerSec)} of broker fsync=never, ${times(redis.opsPerSec, batch.opsPerSec)} of fsync=batch`,
    },
    {
      ...batchNever,
      ratio: `${times(batchNever.opsPerSec, never.opsPerSec)} of PublishStream; ${times(batchNever.opsPerSec, nats.opsPerSec)} NATS; ${times(batchNever.opsPerSec, redis.opsPerSec)} Redis`,
    },
    {
      ...batchBatch,
      ratio: `${times(batchBatch.opsPerSec, batch.opsPerSec)} of PublishStream; ${times(batchBatch.opsPerSec, nats.opsPerSec)} NATS; ${times(batchBatch.opsPerSec, redis.opsPerSec)} Redis`,
    },
    {
      ...unary,
      ratio: `${percentOf(unary.opsPerSec, echo.opsPerSec)} of echo (${target('target >= 60%', unary.opsPerSec, echo.opsPerSec, 0.6)})`,
    },
    { ...echo, ratio: `${times(echo.opsPerSec, unary.opsPerSec)} of broker unary (transport ceiling)` },
  ];
}

export async function run(args: string[]): Promise<ScenarioResult> {
  const b = new BrokerBench(parseLoadSettings(args));
  return b.result('compare', await compare(b));
}
