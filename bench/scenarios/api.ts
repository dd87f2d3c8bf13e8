// npm run bench:api [-- --duration 10 --payload 1024 --fsync batch --batch 100]
// The broker over gRPC next to a trivial grpc-js echo server (the transport ceiling), one run, the same load
// generators for both: unary Publish and Fetch with ghz (a native client, 1 connection x 64 in flight, so the
// figure is the server's, not a Node client's ~5 k/s ceiling), PublishStream from 2 worker threads, and Subscribe
// delivery to 1 and 100 subscribers while a PublishStream publisher runs flat out; and PublishBatch (ghz, batches of
// --batch messages, 16 calls in flight), the broker's way past the per-message cost of grpc-js.
// Targets: unary Publish >= 60% of echo; PublishStream >= 3x unary Publish.
import { parseArgs } from 'node:util';
import { ghzPublishBatch, ghzUnary } from '../support/ghz.js';
import type { WorkerTask } from '../support/load-worker.js';
import { startBroker, startEcho } from '../support/processes.js';
import type { LoadResult, Row } from '../support/report.js';
import type { ScenarioResult } from '../support/result.js';
import { percentOf, ratioVerdict } from '../support/verdict.js';
import { measured, setQuiet, startWorkers, summarize, withProgress } from '../support/workers.js';
import { onServer } from './broker-bench.js';
import { COMMON_OPTIONS } from './scenario.js';

const STREAM_INFLIGHT = 512;
const BATCH_INFLIGHT = 16;

interface ApiSettings {
  readonly seconds: number;
  readonly payload: number;
  readonly fsync: string;
  readonly batch: number;
}

const unaryPublish = (s: ApiSettings, port: number, name: string): Promise<LoadResult> =>
  measured(() =>
    ghzUnary({
      name,
      port,
      call: 'broker.Broker/Publish',
      data: { subject: 'bench', body: Buffer.alloc(s.payload, 1).toString('base64'), expirationSeconds: 0 },
      concurrency: 64,
      seconds: s.seconds,
      payloadBytes: s.payload,
    }),
  );

function streamTask(s: ApiSettings, port: number, subject: string, seconds: number): WorkerTask {
  return {
    kind: 'stream',
    host: '127.0.0.1',
    port,
    subject,
    subjects: 1,
    seconds,
    inflight: STREAM_INFLIGHT,
    payload: s.payload,
    rate: 0,
  };
}

async function publishStream(s: ApiSettings, port: number, name: string): Promise<LoadResult> {
  return measured(async () => {
    const w = startWorkers([0, 1].map((i) => streamTask(s, port, `stream.${i}`, s.seconds)));
    return summarize(name, await withProgress(name, s.seconds, w, w.done), s.payload);
  });
}

async function fanOut(s: ApiSettings, port: number, subscribers: number): Promise<Row> {
  const subject = `fan.${subscribers}`;
  const workers = subscribers === 1 ? 1 : 2;
  const subs = startWorkers(
    Array.from({ length: workers }, (_, i) => ({
      kind: 'subscribe' as const,
      host: '127.0.0.1',
      port,
      subject,
      subjects: 1,
      seconds: s.seconds + 3,
      streams: Math.floor(subscribers / workers) + (i < subscribers % workers ? 1 : 0),
      streamsPerChannel: 250,
    })),
  );
  await subs.ready;
  const pub = startWorkers([streamTask(s, port, subject, s.seconds)]);
  const published = await withProgress(
    `Subscribe x${subscribers}`,
    s.seconds,
    pub,
    pub.done,
    () => `, delivered ${subs.current().toLocaleString('en')}`,
  );
  const delivered = await subs.done;
  const p = summarize('publisher', published, s.payload);
  const d = summarize(
    `broker: Subscribe, ${subscribers} subscriber(s): deliveries/s (latency = publish to delivery)`,
    delivered,
    s.payload,
    s.seconds,
  );
  return {
    ...d,
    ratio: `publisher ${Math.round(p.opsPerSec).toLocaleString('en')}/s; ${((d.ops / Math.max(1, p.ops * subscribers)) * 100).toFixed(1)}% of published x subscribers delivered`,
  };
}

async function measureBroker(s: ApiSettings) {
  return onServer(
    () => startBroker({ BROKER_FSYNC: s.fsync }),
    async (srv) => {
      const publish = await unaryPublish(s, srv.port, `broker fsync=${s.fsync}: unary Publish (ghz, 1 conn x 64)`);
      // Fetch ids that exist: the unary run above published far more than 50,000 messages to 'bench'.
      const fetch = await measured(() =>
        ghzUnary({
          name: 'broker: Fetch (ghz, 1 conn x 64)',
          port: srv.port,
          call: 'broker.Broker/Fetch',
          data: {
            subject: 'bench',
            id: `{{add (mod .RequestNumber ${Math.max(1, Math.min(50_000, publish.ops))}) 1}}`,
          },
          concurrency: 64,
          seconds: s.seconds,
          payloadBytes: s.payload,
        }),
      );
      const stream = await publishStream(
        s,
        srv.port,
        `broker fsync=${s.fsync}: PublishStream (2 conn x ${STREAM_INFLIGHT})`,
      );
      const batch = await measured(() =>
        ghzPublishBatch({
          name: `broker fsync=${s.fsync}: PublishBatch of ${s.batch} (ghz, 1 conn x ${BATCH_INFLIGHT}): messages/s, latency per call`,
          port: srv.port,
          subject: 'batch',
          batch: s.batch,
          concurrency: BATCH_INFLIGHT,
          seconds: s.seconds,
          payloadBytes: s.payload,
        }),
      );
      const fan1 = await fanOut(s, srv.port, 1);
      const fan100 = await fanOut(s, srv.port, 100);
      return { publish, fetch, stream, batch, fan1, fan100 };
    },
  );
}

export async function run(args: string[]): Promise<ScenarioResult> {
  const { values } = parseArgs({
    args,
    options: {
      ...COMMON_OPTIONS,
      duration: { type: 'string', default: '10' },
      payload: { type: 'string', default: '1024' },
      fsync: { type: 'string', default: 'batch' },
      batch: { type: 'string', default: '100' },
    },
  });
  setQuiet(values.json);
  const s: ApiSettings = {
    seconds: Number.parseFloat(values.duration),
    payload: Number(values.payload),
    fsync: values.fsync,
    batch: Number(values.batch),
  };
  const started = Date.now();
  const echo = await onServer(startEcho, async (srv) => ({
    publish: await unaryPublish(s, srv.port, 'echo: unary Publish (ghz, 1 conn x 64)'),
    stream: await publishStream(s, srv.port, `echo: PublishStream (2 conn x ${STREAM_INFLIGHT})`),
  }));
  const broker = await measureBroker(s);
  const rows: Row[] = [
    { ...echo.publish, ratio: '100% (transport ceiling)' },
    {
      ...broker.publish,
      ratio: `${percentOf(broker.publish.opsPerSec, echo.publish.opsPerSec)} of echo (target >= 60%: ${ratioVerdict(broker.publish.opsPerSec, echo.publish.opsPerSec, 0.6)})`,
    },
    { ...broker.fetch, ratio: `${percentOf(broker.fetch.opsPerSec, echo.publish.opsPerSec)} of echo unary` },
    { ...echo.stream, ratio: '100% (ceiling for this client)' },
    {
      ...broker.stream,
      ratio: `${percentOf(broker.stream.opsPerSec, echo.stream.opsPerSec)} of echo stream; ${(broker.stream.opsPerSec / broker.publish.opsPerSec).toFixed(1)}x unary Publish (target >= 3x: ${ratioVerdict(broker.stream.opsPerSec, broker.publish.opsPerSec, 3)})`,
    },
    {
      ...broker.batch,
      ratio: `${(broker.batch.opsPerSec / broker.stream.opsPerSec).toFixed(1)}x PublishStream, ${(broker.batch.opsPerSec / broker.publish.opsPerSec).toFixed(1)}x unary Publish (messages/s)`,
    },
    broker.fan1,
    broker.fan100,
  ];
  return {
    heading: `api benchmark: ${s.payload} B payloads, ${s.seconds} s per measurement, broker fsync=${s.fsync}, ${((Date.now() - started) / 1000).toFixed(0)} s in all`,
    options: { ...s },
    tables: [{ kind: 'load', extraColumn: 'ratio / target', rows }],
  };
}
