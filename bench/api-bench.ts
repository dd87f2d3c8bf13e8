// npm run bench:api [-- --duration 10 --payload 1024 --fsync batch]
// The broker over gRPC next to a trivial grpc-js echo server (the transport ceiling), one run, the same load
// generators for both: unary Publish and Fetch with ghz (a native client, 1 connection x 64 in flight, so the
// figure is the server's, not a Node client's ~5 k/s ceiling), PublishStream from 2 worker threads, and Subscribe
// delivery to 1 and 100 subscribers while a PublishStream publisher runs flat out; and PublishBatch (ghz, batches of
// --batch messages, 16 calls in flight), the broker's way past the per-message cost of grpc-js.
// Targets: unary Publish >= 60% of echo; PublishStream >= 3x unary Publish.
import { parseArgs } from 'node:util';
import { ghzPublishBatch, ghzUnary } from './support/ghz.js';
import { startBroker, startEcho, type Running } from './support/processes.js';
import type { WorkerTask } from './support/load-worker.js';
import {
  measured,
  setQuiet,
  startWorkers,
  summarize,
  table,
  withProgress,
  type LoadResult,
} from './support/workers.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    payload: { type: 'string', default: '1024' },
    fsync: { type: 'string', default: 'batch' },
    batch: { type: 'string', default: '100' },
    json: { type: 'boolean', default: false },
  },
});
const SECONDS = Number.parseFloat(values.duration);
const PAYLOAD = Number(values.payload);
const STREAM_INFLIGHT = 512;
const BATCH = Number(values.batch);
const BATCH_INFLIGHT = 16;
setQuiet(values.json);

async function withServer<T>(start: () => Promise<Running>, work: (s: Running) => Promise<T>): Promise<T> {
  const server = await start();
  try {
    return await work(server);
  } finally {
    await server.stop();
  }
}

const ghz = (opts: Parameters<typeof ghzUnary>[0]): Promise<LoadResult> => measured(() => ghzUnary(opts));
const unaryPublish = (port: number, name: string): Promise<LoadResult> =>
  ghz({
    name,
    port,
    call: 'broker.Broker/Publish',
    data: { subject: 'bench', body: Buffer.alloc(PAYLOAD, 1).toString('base64'), expirationSeconds: 0 },
    concurrency: 64,
    seconds: SECONDS,
    payloadBytes: PAYLOAD,
  });

function streamTask(port: number, subject: string, seconds: number): WorkerTask {
  return {
    kind: 'stream',
    host: '127.0.0.1',
    port,
    subject,
    subjects: 1,
    seconds,
    inflight: STREAM_INFLIGHT,
    payload: PAYLOAD,
    rate: 0,
  };
}

async function publishStream(port: number, name: string): Promise<LoadResult> {
  return measured(async () => {
    const w = startWorkers([0, 1].map((i) => streamTask(port, `stream.${i}`, SECONDS)));
    return summarize(name, await withProgress(name, SECONDS, w, w.done), PAYLOAD);
  });
}

async function fanOut(port: number, subscribers: number): Promise<LoadResult & { ratio: string }> {
  const subject = `fan.${subscribers}`;
  const workers = subscribers === 1 ? 1 : 2;
  const subs = startWorkers(
    Array.from({ length: workers }, (_, i) => ({
      kind: 'subscribe' as const,
      host: '127.0.0.1',
      port,
      subject,
      subjects: 1,
      seconds: SECONDS + 3,
      streams: Math.floor(subscribers / workers) + (i < subscribers % workers ? 1 : 0),
      streamsPerChannel: 250,
    })),
  );
  await subs.ready;
  const pub = startWorkers([streamTask(port, subject, SECONDS)]);
  const published = await withProgress(
    `Subscribe x${subscribers}`,
    SECONDS,
    pub,
    pub.done,
    () => `, delivered ${subs.current().toLocaleString('en')}`,
  );
  const delivered = await subs.done;
  const p = summarize('publisher', published, PAYLOAD);
  const d = summarize(
    `broker: Subscribe, ${subscribers} subscriber(s): deliveries/s (latency = publish to delivery)`,
    delivered,
    PAYLOAD,
    SECONDS,
  );
  return {
    ...d,
    ratio: `publisher ${Math.round(p.opsPerSec).toLocaleString('en')}/s; ${((d.ops / Math.max(1, p.ops * subscribers)) * 100).toFixed(1)}% of published x subscribers delivered`,
  };
}

const started = Date.now();
const echo = await withServer(startEcho, async (s) => ({
  publish: await unaryPublish(s.port, 'echo: unary Publish (ghz, 1 conn x 64)'),
  stream: await publishStream(s.port, `echo: PublishStream (2 conn x ${STREAM_INFLIGHT})`),
}));
const broker = await withServer(
  () => startBroker({ BROKER_FSYNC: values.fsync }),
  async (s) => {
    const publish = await unaryPublish(s.port, `broker fsync=${values.fsync}: unary Publish (ghz, 1 conn x 64)`);
    // Fetch ids that exist: the unary run above published far more than 50,000 messages to 'bench'.
    const fetch = await ghz({
      name: 'broker: Fetch (ghz, 1 conn x 64)',
      port: s.port,
      call: 'broker.Broker/Fetch',
      data: { subject: 'bench', id: `{{add (mod .RequestNumber ${Math.max(1, Math.min(50_000, publish.ops))}) 1}}` },
      concurrency: 64,
      seconds: SECONDS,
      payloadBytes: PAYLOAD,
    });
    const stream = await publishStream(
      s.port,
      `broker fsync=${values.fsync}: PublishStream (2 conn x ${STREAM_INFLIGHT})`,
    );
    const batch = await measured(() =>
      ghzPublishBatch({
        name: `broker fsync=${values.fsync}: PublishBatch of ${BATCH} (ghz, 1 conn x ${BATCH_INFLIGHT}): messages/s, latency per call`,
        port: s.port,
        subject: 'batch',
        batch: BATCH,
        concurrency: BATCH_INFLIGHT,
        seconds: SECONDS,
        payloadBytes: PAYLOAD,
      }),
    );
    const fan1 = await fanOut(s.port, 1);
    const fan100 = await fanOut(s.port, 100);
    return { publish, fetch, stream, batch, fan1, fan100 };
  },
);

const pct = (a: number, b: number): string => `${((a / b) * 100).toFixed(0)}%`;
const met = (ok: boolean): string => (ok ? 'met' : 'missed');
const rows = [
  { ...echo.publish, ratio: '100% (transport ceiling)' },
  {
    ...broker.publish,
    ratio: `${pct(broker.publish.opsPerSec, echo.publish.opsPerSec)} of echo (target >= 60%: ${met(broker.publish.opsPerSec >= 0.6 * echo.publish.opsPerSec)})`,
  },
  { ...broker.fetch, ratio: `${pct(broker.fetch.opsPerSec, echo.publish.opsPerSec)} of echo unary` },
  { ...echo.stream, ratio: '100% (ceiling for this client)' },
  {
    ...broker.stream,
    ratio: `${pct(broker.stream.opsPerSec, echo.stream.opsPerSec)} of echo stream; ${(broker.stream.opsPerSec / broker.publish.opsPerSec).toFixed(1)}x unary Publish (target >= 3x: ${met(broker.stream.opsPerSec >= 3 * broker.publish.opsPerSec)})`,
  },
  {
    ...broker.batch,
    ratio: `${(broker.batch.opsPerSec / broker.stream.opsPerSec).toFixed(1)}x PublishStream, ${(broker.batch.opsPerSec / broker.publish.opsPerSec).toFixed(1)}x unary Publish (messages/s)`,
  },
  broker.fan1,
  broker.fan100,
];
if (values.json)
  console.log(JSON.stringify({ seconds: SECONDS, payload: PAYLOAD, fsync: values.fsync, results: rows }, null, 2));
else
  console.log(
    `\napi benchmark: ${PAYLOAD} B payloads, ${SECONDS} s per measurement, broker fsync=${values.fsync}, ${((Date.now() - started) / 1000).toFixed(0)} s in all\n\n${table(rows, 'ratio / target')}`,
  );
