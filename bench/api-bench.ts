// npm run bench:api [-- --seconds 10 --payload 1024]
// The broker over gRPC next to a trivial grpc-js echo server (the transport ceiling), same load generators, one run:
// unary Publish and Fetch with ghz (native, 64 in flight), PublishStream with worker threads, and Subscribe
// delivery to 1 and 100 subscribers while a PublishStream publisher runs.
import { parseArgs } from 'node:util';
import { ghzUnary, type LoadResult } from './support/ghz.js';
import { startBroker, startEcho, type Running } from './support/processes.js';
import { startWorkers, summarize, table } from './support/workers.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, payload: { type: 'string', default: '1024' }, fsync: { type: 'string', default: 'batch' } } });
const SECONDS = Number(values.seconds);
const PAYLOAD = Number(values.payload);
const body = Buffer.alloc(PAYLOAD, 1).toString('base64');

async function withServer<T>(start: () => Promise<Running>, work: (s: Running) => Promise<T>): Promise<T> {
  const server = await start();
  try {
    return await work(server);
  } finally {
    await server.stop();
  }
}

async function publishStream(port: number, name: string): Promise<LoadResult> {
  const w = startWorkers([0, 1].map((i) => ({ kind: 'broker-stream' as const, port, subject: `stream.${i}`, inflight: 512, payload: PAYLOAD, seconds: SECONDS })));
  return summarize(name, await w.done, PAYLOAD);
}

async function fanOut(port: number, subscribers: number): Promise<LoadResult> {
  const perWorker = Math.max(1, Math.ceil(subscribers / 2));
  const subs = startWorkers(Array.from({ length: subscribers === 1 ? 1 : 2 }, () => ({ kind: 'subscribe' as const, port, subject: `fan.${subscribers}`, streams: subscribers === 1 ? 1 : perWorker, seconds: SECONDS + 1 })));
  await subs.ready;
  const pub = startWorkers([{ kind: 'broker-stream', port, subject: `fan.${subscribers}`, inflight: 256, payload: PAYLOAD, seconds: SECONDS }]);
  const [published, delivered] = await Promise.all([pub.done, subs.done]);
  const p = summarize('publisher', published, PAYLOAD);
  const d = summarize(`Subscribe, ${subscribers} subscriber(s): deliveries (latency = publish to delivery)`, delivered, PAYLOAD);
  return { ...d, name: `${d.name}; publisher ${Math.round(p.opsPerSec).toLocaleString('en')}/s` };
}

console.log(`api benchmark: ${SECONDS}s per scenario, ${PAYLOAD} B payloads, broker fsync=${values.fsync}`);
const echo = await withServer(startEcho, async (s) => ({
  publish: await ghzUnary({ name: 'echo: unary Publish (ghz, 64 in flight)', port: s.port, call: 'broker.Broker/Publish', data: { subject: 'bench', body, expirationSeconds: 0 }, concurrency: 64, seconds: SECONDS, payloadBytes: PAYLOAD }),
  stream: await publishStream(s.port, 'echo: PublishStream (2 workers x 512 in flight)'),
}));
console.log(table([echo.publish, echo.stream]));
const broker = await withServer(() => startBroker({ BROKER_FSYNC: String(values.fsync) }), async (s) => {
  const publish = await ghzUnary({ name: 'broker: unary Publish (ghz, 64 in flight)', port: s.port, call: 'broker.Broker/Publish', data: { subject: 'bench', body, expirationSeconds: 0 }, concurrency: 64, seconds: SECONDS, payloadBytes: PAYLOAD });
  const fetch = await ghzUnary({ name: 'broker: Fetch (ghz, 64 in flight)', port: s.port, call: 'broker.Broker/Fetch', data: { subject: 'bench', id: '{{add (mod .RequestNumber 50000) 1}}' }, concurrency: 64, seconds: SECONDS, payloadBytes: PAYLOAD });
  const stream = await publishStream(s.port, 'broker: PublishStream (2 workers x 512 in flight)');
  const fan1 = await fanOut(s.port, 1);
  const fan100 = await fanOut(s.port, 100);
  return { publish, fetch, stream, fan1, fan100 };
});
const pct = (a: number, b: number): string => `${((a / b) * 100).toFixed(0)}%`;
console.log('\n' + table(
  [
    { ...echo.publish, ratio: '100% (ceiling)' },
    { ...broker.publish, ratio: `${pct(broker.publish.opsPerSec, echo.publish.opsPerSec)} of echo (target >= 60%)` },
    { ...broker.fetch, ratio: `${pct(broker.fetch.opsPerSec, echo.publish.opsPerSec)} of echo` },
    { ...echo.stream, ratio: '100% (ceiling)' },
    { ...broker.stream, ratio: `${pct(broker.stream.opsPerSec, echo.stream.opsPerSec)} of echo stream; ${(broker.stream.opsPerSec / broker.publish.opsPerSec).toFixed(1)}x unary Publish (target >= 3x)` },
    broker.fan1,
    broker.fan100,
  ],
  'ratio',
));
