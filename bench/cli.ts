// npm run bench -- <scenario> [options]: the broker's load client, with peers started in the same run.
//
// Scenarios
//   publish         unary Publish (Node worker threads, or --client ghz for a native client)
//   publish-stream  PublishStream, acks in request order
//   fetch           Fetch of ids that exist (the subjects are filled first)
//   subscribe       fan-out: --subscribers live streams on one subject while a publisher runs at --rate;
//                   broker RSS is sampled every second (flat-memory check)
//   e2e             publish-to-delivery latency timed by the receiver (timestamp in the body) at --rate, or at half
//                   the rate a closed-loop probe reaches when --rate is not given
//   idle            --subscribers idle Subscribe streams (default 10,000): the broker's RSS with them open
//   mixed           PublishStream publishers + subscribers + Fetch at once
//   compare         broker PublishStream and PublishBatch (fsync never and batch) vs NATS JetStream and Redis Streams, same payload
//                   and concurrency, and broker unary Publish vs a grpc-js echo server (ghz); ratios to the broker
// Options
//   --connections N  worker threads, each with its own channel (default 2)
//   --inflight N     operations outstanding per connection, closed model (default 64)
//   --rate N         total operations/s, open model: scheduled at fixed intervals, latency from the scheduled time
//   --duration S     seconds per measurement (default 10)         --payload B   body bytes (default 1024)
//   --subjects N     spread operations round-robin over N subjects (default 1)
//   --subscribers N  streams for subscribe / idle / mixed        --fsync batch|never (default batch)
//   --target H:P     an existing broker (default: start one from api/cli.ts on a free port and a temp data dir)
//   --client node|ghz|go  load generator: ghz for unary publish/fetch; go (bench/loadgen, a native client:
//                    grpc-go, nats.go, rueidis) for publish-stream, subscribe and e2e (publisher and subscribers in
//                    one process, one clock) and the compare rows of PublishStream, NATS and Redis
//                    (default node: worker threads)
//   --warmup S       node: the first S seconds count in rates but not in latency percentiles (default 2: cold JIT);
//                    go: S seconds run first and count in neither, then --duration S is measured
//   --json           JSON instead of a Markdown table
import { parseArgs } from 'node:util';
import { ghzPublishBatch, ghzUnary } from './support/ghz.js';
import { loadgen, loadgenRow } from './support/loadgen.js';
import {
  rssBytes,
  sampleRss,
  startBroker,
  startEcho,
  startNats,
  startRedis,
  type Running,
} from './support/processes.js';
import type { WorkerTask } from './support/load-worker.js';
import { cpuMark, foreignPercent, waitForQuiet } from './support/quiet.js';
import {
  measured,
  setQuiet,
  startWorkers,
  summarize,
  table,
  withProgress,
  type LoadResult,
} from './support/workers.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    connections: { type: 'string', default: '2' },
    inflight: { type: 'string', default: '64' },
    rate: { type: 'string', default: '0' },
    duration: { type: 'string' },
    seconds: { type: 'string' },
    payload: { type: 'string', default: '1024' },
    subjects: { type: 'string', default: '1' },
    subscribers: { type: 'string' },
    fsync: { type: 'string', default: 'batch' },
    target: { type: 'string' },
    client: { type: 'string', default: 'node' },
    warmup: { type: 'string', default: '2' },
    json: { type: 'boolean', default: false },
  },
});

const scenario = positionals[0] ?? 'compare';
const SECONDS = Number.parseFloat(values.duration ?? values.seconds ?? '10');
const PAYLOAD = Number(values.payload);
const INFLIGHT = Math.max(1, Number(values.inflight));
const RATE = Number(values.rate);
const CONNECTIONS = Math.max(1, Number(values.connections));
const SUBJECTS = Math.max(1, Number(values.subjects));
const CLIENT = values.client === 'ghz' ? 'ghz' : values.client === 'go' ? 'go' : 'node';
const WARMUP = Math.max(0, Number(values.warmup));
setQuiet(values.json);

interface Target {
  host: string;
  port: number;
  /** Set when this run started the broker (its RSS can be read). */
  pid?: number;
}
type Row = LoadResult & { ratio?: string };

/** Runs `work` against --target, or against a broker started here with the given fsync mode. */
async function onBroker<T>(work: (t: Target) => Promise<T>, fsync = String(values.fsync)): Promise<T> {
  if (values.target !== undefined) {
    const [host, port] = values.target.split(':');
    return work({ host: host || '127.0.0.1', port: Number(port) });
  }
  return onServer(
    () => startBroker({ BROKER_FSYNC: fsync }),
    (s) => work({ host: '127.0.0.1', port: s.port, pid: s.pid }),
  );
}

async function onServer<T>(start: () => Promise<Running>, work: (s: Running) => Promise<T>): Promise<T> {
  const server = await start();
  try {
    return await work(server);
  } finally {
    await server.stop();
  }
}

/** One task per connection; the total --rate is split evenly. */
function load<K extends 'unary' | 'stream' | 'nats' | 'redis-xadd'>(
  kind: K,
  t: Target,
  subject: string,
  o: { rate?: number; inflight?: number; seconds?: number; connections?: number } = {},
): WorkerTask[] {
  const connections = o.connections ?? CONNECTIONS;
  const rate = o.rate ?? RATE;
  return Array.from(
    { length: connections },
    (_, i) =>
      ({
        kind,
        host: t.host,
        port: t.port,
        subject: SUBJECTS > 1 ? subject : `${subject}.${i}`,
        subjects: SUBJECTS,
        seconds: o.seconds ?? SECONDS,
        inflight: o.inflight ?? INFLIGHT,
        payload: PAYLOAD,
        rate: rate > 0 ? rate / connections : 0,
        warmup: WARMUP,
      }) as WorkerTask,
  );
}

async function run(name: string, tasks: WorkerTask[], seconds = SECONDS): Promise<LoadResult> {
  return measured(async () => {
    const w = startWorkers(tasks);
    return summarize(name, await withProgress(name, seconds, w, w.done), PAYLOAD);
  });
}

const ghz = (opts: Parameters<typeof ghzUnary>[0]): Promise<LoadResult> => measured(() => ghzUnary(opts));

const model = (inflight = INFLIGHT, rate = RATE, connections = CONNECTIONS): string =>
  rate > 0
    ? `open model ${rate.toLocaleString('en')}/s over ${connections} conn`
    : `${connections} conn x ${inflight} in flight`;

async function publishUnary(t: Target, label = 'broker'): Promise<LoadResult> {
  if (CLIENT === 'ghz') {
    const name = `${label}: unary Publish, ghz 1 conn x ${INFLIGHT}${RATE > 0 ? ` at ${RATE}/s` : ''}`;
    return ghz({
      name,
      host: t.host,
      port: t.port,
      call: 'broker.Broker/Publish',
      data: { subject: 'bench.unary', body: Buffer.alloc(PAYLOAD, 1).toString('base64'), expirationSeconds: 0 },
      concurrency: INFLIGHT,
      seconds: SECONDS,
      payloadBytes: PAYLOAD,
      ...(RATE > 0 ? { rps: RATE } : {}),
    });
  }
  return run(`${label}: unary Publish, ${model()}`, load('unary', t, 'bench.unary'));
}

async function publishStream(
  t: Target,
  label = 'broker',
  o: { rate?: number; inflight?: number } = {},
): Promise<LoadResult> {
  if (CLIENT === 'go') {
    // One subject per connection, as the Node workers publish (unless --subjects spreads them).
    const rate = o.rate ?? RATE;
    const inflight = o.inflight ?? INFLIGHT;
    return measured(async () => {
      const r = await loadgen({
        mode: 'stream',
        host: t.host,
        port: t.port,
        subject: 'bench.stream',
        subjects: SUBJECTS,
        subjectPerConnection: SUBJECTS === 1,
        rate,
        inflight,
        connections: CONNECTIONS,
        seconds: SECONDS,
        warmup: WARMUP,
        payload: PAYLOAD,
      });
      return loadgenRow(`${label}: PublishStream (loadgen), ${model(inflight, rate)}`, r, r);
    });
  }
  return run(`${label}: PublishStream, ${model(o.inflight, o.rate)}`, load('stream', t, 'bench.stream', o));
}

async function fetch(t: Target): Promise<LoadResult> {
  // Fill: every subject gets at least `perSubject` messages, so every id asked for exists.
  const perSubject = 5000;
  const fill = Array.from({ length: SUBJECTS }, (_, i) => ({
    kind: 'stream' as const,
    host: t.host,
    port: t.port,
    subject: SUBJECTS > 1 ? `bench.fetch.${i}` : 'bench.fetch',
    subjects: 1,
    seconds: 600,
    inflight: 256,
    payload: PAYLOAD,
    rate: 0,
  }));
  // A closed loop for a bounded time cannot stop at a count, so fill at a known rate instead: 5,000 per subject.
  const fillSeconds = Math.max(2, Math.ceil((perSubject * SUBJECTS) / 10_000));
  await run(
    'fill for fetch',
    fill.map((f) => ({ ...f, seconds: fillSeconds, rate: perSubject / fillSeconds + 1 })),
    fillSeconds,
  );
  if (CLIENT === 'ghz') {
    return ghz({
      name: `Fetch, ghz 1 conn x ${INFLIGHT}`,
      host: t.host,
      port: t.port,
      call: 'broker.Broker/Fetch',
      data: { subject: 'bench.fetch', id: `{{add (mod .RequestNumber ${perSubject}) 1}}` },
      concurrency: INFLIGHT,
      seconds: SECONDS,
      payloadBytes: PAYLOAD,
    });
  }
  const tasks: WorkerTask[] = Array.from({ length: CONNECTIONS }, () => ({
    kind: 'fetch',
    host: t.host,
    port: t.port,
    subject: 'bench.fetch',
    subjects: SUBJECTS,
    seconds: SECONDS,
    inflight: INFLIGHT,
    payload: PAYLOAD,
    rate: RATE > 0 ? RATE / CONNECTIONS : 0,
    maxId: perSubject,
  }));
  return run(`Fetch of existing ids, ${model()}`, tasks);
}

/** Subscribers spread over the worker threads, up to 250 streams per HTTP/2 connection. */
function subscribers(t: Target, subject: string, streams: number, seconds: number, subjects = 1): WorkerTask[] {
  const workers = Math.min(CONNECTIONS, streams);
  return Array.from({ length: workers }, (_, i) => ({
    kind: 'subscribe' as const,
    host: t.host,
    port: t.port,
    subject,
    subjects,
    seconds,
    warmup: WARMUP,
    streams: Math.floor(streams / workers) + (i < streams % workers ? 1 : 0),
    streamsPerChannel: 250,
  }));
}

/** The broker's RSS over a fan-out run, for the notes column ('' when its RSS could not be read). */
function rssNote(mem: ReturnType<ReturnType<typeof sampleRss>['stop']> | undefined): string {
  if (mem === undefined) return '';
  return `; broker RSS ${mem.startMb.toFixed(0)} -> max ${mem.maxMb.toFixed(0)} -> end ${mem.endMb.toFixed(0)} MB (second half ${mem.secondHalfGrowthMb >= 0 ? '+' : ''}${mem.secondHalfGrowthMb.toFixed(0)} MB)`;
}

function cpuNote(mark: ReturnType<typeof cpuMark>, busyBefore: number): string {
  return `foreign CPU ${foreignPercent(mark).toFixed(0)}% during, ${busyBefore.toFixed(0)}% busy before`;
}

/** Live subscribers on one subject while one PublishStream publisher runs at `rate` (open model). */
async function fanOut(t: Target, count: number, rate: number, label: string): Promise<Row[]> {
  if (CLIENT === 'go') return fanOutGo(t, count, rate, label);
  const busy = await waitForQuiet();
  const subs = startWorkers(subscribers(t, 'bench.fan', count, SECONDS + 3));
  await subs.ready;
  const mark = cpuMark();
  const rss = t.pid === undefined ? undefined : sampleRss(t.pid);
  const pub = startWorkers(
    load('stream', t, 'bench.fan', { rate, connections: 1, inflight: 1024 }).map((x) => ({
      ...x,
      subject: 'bench.fan',
      subjects: 1,
    })),
  );
  const published = await withProgress(
    `${label}: publishing`,
    SECONDS,
    pub,
    pub.done,
    () => `, delivered ${subs.current().toLocaleString('en')}`,
  );
  const delivered = await withProgress(`${label}: draining`, 3, subs, subs.done);
  const mem = rss?.stop();
  const cpu = cpuNote(mark, busy);
  const p = summarize(
    `${label}: publisher, ${rate > 0 ? `${rate.toLocaleString('en')}/s` : 'closed loop'}`,
    published,
    PAYLOAD,
  );
  const expected = p.ops * count;
  const d = summarize(
    `${label}: deliveries to ${count.toLocaleString('en')} subscriber(s), publish-to-delivery latency`,
    delivered,
    PAYLOAD,
    SECONDS,
  );
  const memNote = rssNote(mem);
  return [
    p,
    {
      ...d,
      ratio: `${((d.ops / Math.max(1, expected)) * 100).toFixed(1)}% of ${expected.toLocaleString('en')} expected deliveries${memNote}; ${cpu}`,
    },
  ];
}

/**
 * fanOut with bench/loadgen's e2e mode: publisher and subscribers native and in one process, timed by one clock, so
 * the figures are the broker's. Subscribers: up to 250 streams per HTTP/2 connection.
 */
async function fanOutGo(t: Target, count: number, rate: number, label: string): Promise<Row[]> {
  const busy = await waitForQuiet();
  const mark = cpuMark();
  const rss = t.pid === undefined ? undefined : sampleRss(t.pid);
  const r = await loadgen({
    mode: 'e2e',
    host: t.host,
    port: t.port,
    subject: 'bench.fan',
    rate,
    inflight: 1024,
    connections: Math.max(1, Math.ceil(count / 250)),
    streams: count,
    seconds: SECONDS,
    warmup: WARMUP,
    payload: PAYLOAD,
  });
  const mem = rss?.stop();
  const memNote = rssNote(mem);
  const cpu = cpuNote(mark, busy);
  const expected = r.expected ?? 0;
  const publisher = loadgenRow(
    `${label} (loadgen): publisher, ${rate > 0 ? `${rate.toLocaleString('en')}/s` : 'closed loop'}`,
    r.publisher ?? r,
    r,
  );
  const deliveries = loadgenRow(
    `${label} (loadgen): deliveries to ${count.toLocaleString('en')} subscriber(s), publish-to-delivery latency`,
    r,
    { ...r, unsent: 0, unacked: 0 },
  );
  const share = `${((r.deliveredFraction ?? 0) * 100).toFixed(1)}% of ${expected.toLocaleString('en')} expected deliveries (messages sent after the warm-up x subscribers) in by 5 s after the end`;
  return [publisher, { ...deliveries, ratio: `${share}${memNote}; ${cpu}` }];
}

/** e2e latency at `rate`, or at half of what a 3 s closed-loop probe reaches. */
async function e2e(t: Target): Promise<Row[]> {
  let rate = RATE;
  const rows: Row[] = [];
  if (rate <= 0) {
    const probe =
      CLIENT === 'go'
        ? await loadgen({
            mode: 'stream',
            host: t.host,
            port: t.port,
            subject: 'bench.probe',
            rate: 0,
            inflight: 256,
            connections: 1,
            seconds: 5,
            warmup: 1,
            payload: PAYLOAD,
          }).then((r) => loadgenRow('e2e (loadgen): max-rate probe (PublishStream, 1 conn x 256, no subscriber)', r, r))
        : await run(
            'e2e: max-rate probe (PublishStream, 1 conn x 256, no subscriber)',
            load('stream', t, 'bench.probe', { connections: 1, seconds: 3, inflight: 256 }),
            3,
          );
    rows.push({ ...probe, ratio: 'probe' });
    rate = Math.max(100, Math.round(probe.opsPerSec / 2 / 100) * 100);
  }
  const [pub, del] = await fanOut(t, 1, rate, `e2e at ${rate.toLocaleString('en')}/s`);
  rows.push(pub!, {
    ...del!,
    ratio: `p99 ${del!.p99Ms.toFixed(2)} ms (target < 10 ms: ${del!.p99Ms < 10 ? 'met' : 'missed'}); ${del!.ratio ?? ''}`,
  });
  return rows;
}

/** N idle subscribers spread over --subjects subjects, nothing published: the broker's RSS with all of them open. */
async function idle(t: Target, count: number, label = 'broker'): Promise<Row[]> {
  if (t.pid === undefined)
    throw new Error('idle needs a broker started by this run (no --target): it reads the broker RSS');
  const busy = await waitForQuiet();
  const mark = cpuMark();
  const before = rssBytes(t.pid) / 1e6;
  const started = Date.now();
  const hold = Math.max(5, SECONDS);
  const subs = startWorkers(subscribers(t, 'bench.idle', count, hold, SUBJECTS));
  await withProgress(`opening ${count.toLocaleString('en')} idle subscribers`, 0, subs, subs.ready);
  const openMs = Date.now() - started;
  const rss = sampleRss(t.pid);
  await withProgress(`holding ${count.toLocaleString('en')} idle subscribers`, hold, subs, subs.done);
  const mem = rss.stop();
  const row: Row = {
    name: `${label}: ${count.toLocaleString('en')} idle Subscribe streams on ${SUBJECTS.toLocaleString('en')} subject(s)`,
    ops: count,
    opsPerSec: count / (openMs / 1000),
    mbPerSec: 0,
    p50Ms: 0,
    p90Ms: 0,
    p99Ms: 0,
    p999Ms: 0,
    maxMs: openMs,
    errors: 0,
    ratio: `RSS ${before.toFixed(0)} MB idle -> max ${mem.maxMb.toFixed(0)} / end ${mem.endMb.toFixed(0)} MB with streams open (+${(((mem.maxMb - before) * 1e3) / count).toFixed(1)} KB per stream)${label === 'broker' ? ` (target < 200 MB: ${mem.maxMb < 200 ? 'met' : 'missed'})` : ''}; ops/s = streams opened per second, max ms = time to open all; foreign CPU ${foreignPercent(mark).toFixed(0)}% during, ${busy.toFixed(0)}% busy before`,
  };
  return [row];
}

async function mixed(t: Target): Promise<Row[]> {
  const n = Number(values.subscribers ?? '10');
  const subs = startWorkers(subscribers(t, 'bench.mixed', n, SECONDS + 5));
  await subs.ready;
  const fetchers: WorkerTask[] = [
    {
      kind: 'fetch',
      host: t.host,
      port: t.port,
      subject: 'bench.mixed',
      subjects: 1,
      seconds: SECONDS,
      inflight: 16,
      payload: PAYLOAD,
      rate: 0,
      maxId: 500,
    },
  ];
  const pubTasks = load('stream', t, 'bench.mixed', { connections: 1 }).map((x) => ({
    ...x,
    subject: 'bench.mixed',
    subjects: 1,
  }));
  // The fetchers start once the publisher has written the ids they ask for.
  const pub = startWorkers(pubTasks);
  await new Promise((r) => setTimeout(r, 1000));
  const fw = startWorkers(fetchers);
  const [published, fetched] = await withProgress('mixed', SECONDS, pub, Promise.all([pub.done, fw.done]));
  const delivered = await subs.done;
  return [
    summarize(`mixed: PublishStream, ${model(INFLIGHT, 0, 1)}`, published, PAYLOAD),
    summarize('mixed: Fetch, 1 conn x 16 in flight', fetched, PAYLOAD),
    summarize(`mixed: deliveries to ${n} subscriber(s)`, delivered, PAYLOAD, SECONDS),
  ];
}

/** A peer on loopback with the same load shape; NATS needs its stream created first. */
async function peer(kind: 'nats' | 'redis-xadd', label: string): Promise<LoadResult> {
  return onServer(kind === 'nats' ? startNats : startRedis, async (s) => {
    if (CLIENT === 'go') {
      // loadgen creates the JetStream stream itself; its Redis client (rueidis, one TCP connection per connection)
      // pipelines the in-flight commands like ioredis. One subject / key per connection, as the Node workers use.
      const name = `${label.replace(', ioredis', ', rueidis').replace('js.publish', 'nats.go PublishAsync')} (loadgen), ${model()}`;
      return measured(async () => {
        const r = await loadgen({
          mode: kind === 'nats' ? 'nats' : 'redis',
          host: '127.0.0.1',
          port: s.port,
          subject: 'bench.peer',
          subjectPerConnection: true,
          rate: 0,
          inflight: INFLIGHT,
          connections: CONNECTIONS,
          seconds: SECONDS,
          warmup: WARMUP,
          payload: PAYLOAD,
        });
        return loadgenRow(name, r, r);
      });
    }
    if (kind === 'nats') {
      const { connect } = await import('nats');
      const nc = await connect({ servers: `127.0.0.1:${s.port}` });
      const jsm = await nc.jetstreamManager();
      const { StorageType } = await import('nats');
      await jsm.streams.add({ name: 'BENCH', subjects: ['bench.>'], storage: StorageType.File });
      await nc.close();
    }
    return run(`${label}, ${model()}`, load(kind, { host: '127.0.0.1', port: s.port }, 'bench.peer'));
  });
}

const x = (a: number, b: number): string => `${(a / b).toFixed(2)}x`;

async function compare(): Promise<Row[]> {
  const never = await onBroker((t) => publishStream(t, 'broker fsync=never'), 'never');
  const batch = await onBroker((t) => publishStream(t, 'broker fsync=batch'), 'batch');
  const nats = await peer('nats', 'NATS JetStream (file store), js.publish acked, window = in flight');
  const redis = await peer('redis-xadd', 'Redis Streams XADD (AOF everysec), ioredis');
  // Batching at the RPC level, from ghz: what a producer that batches (as Kafka's do) gets out of the broker.
  const batchArgs = (port: number, fsync: string): Parameters<typeof ghzPublishBatch>[0] => ({
    name: `broker fsync=${fsync}: PublishBatch of 100, ghz 1 conn x 16 calls (messages/s, latency per call)`,
    port,
    subject: 'bench.batch',
    batch: 100,
    concurrency: 16,
    seconds: SECONDS,
    payloadBytes: PAYLOAD,
  });
  const batchNever = await onBroker((t) => measured(() => ghzPublishBatch(batchArgs(t.port, 'never'))), 'never');
  const batchBatch = await onBroker((t) => measured(() => ghzPublishBatch(batchArgs(t.port, 'batch'))), 'batch');
  // Unary: both through ghz, a native client, so the figure is the server's and not the Node client's ceiling.
  const unaryArgs = (port: number, name: string): Parameters<typeof ghzUnary>[0] => ({
    name,
    port,
    call: 'broker.Broker/Publish',
    data: { subject: 'bench.unary', body: Buffer.alloc(PAYLOAD, 1).toString('base64'), expirationSeconds: 0 },
    concurrency: 64,
    seconds: SECONDS,
    payloadBytes: PAYLOAD,
  });
  const unary = await onBroker(
    (t) => ghz(unaryArgs(t.port, 'broker fsync=batch: unary Publish, ghz 1 conn x 64')),
    'batch',
  );
  const echo = await onServer(startEcho, (s) =>
    ghz(unaryArgs(s.port, 'grpc-js echo server: unary Publish, ghz 1 conn x 64')),
  );
  const met = (ok: boolean): string => (ok ? 'met' : 'missed');
  return [
    {
      ...never,
      ratio: `1.00x (reference); ${x(never.opsPerSec, nats.opsPerSec)} NATS (target >= 1.5x: ${met(never.opsPerSec >= 1.5 * nats.opsPerSec)}); ${x(never.opsPerSec, redis.opsPerSec)} Redis (target >= 0.75x: ${met(never.opsPerSec >= 0.75 * redis.opsPerSec)})`,
    },
    {
      ...batch,
      ratio: `${x(batch.opsPerSec, never.opsPerSec)} of fsync=never; ${x(batch.opsPerSec, nats.opsPerSec)} NATS (target >= 1.0x: ${met(batch.opsPerSec >= nats.opsPerSec)}); ${x(batch.opsPerSec, redis.opsPerSec)} Redis`,
    },
    {
      ...nats,
      ratio: `${x(nats.opsPerSec, never.opsPerSec)} of broker fsync=never, ${x(nats.opsPerSec, batch.opsPerSec)} of fsync=batch`,
    },
    {
      ...redis,
      ratio: `${x(redis.opsPerSec, never.opsPerSec)} of broker fsync=never, ${x(redis.opsPerSec, batch.opsPerSec)} of fsync=batch`,
    },
    {
      ...batchNever,
      ratio: `${x(batchNever.opsPerSec, never.opsPerSec)} of PublishStream; ${x(batchNever.opsPerSec, nats.opsPerSec)} NATS; ${x(batchNever.opsPerSec, redis.opsPerSec)} Redis`,
    },
    {
      ...batchBatch,
      ratio: `${x(batchBatch.opsPerSec, batch.opsPerSec)} of PublishStream; ${x(batchBatch.opsPerSec, nats.opsPerSec)} NATS; ${x(batchBatch.opsPerSec, redis.opsPerSec)} Redis`,
    },
    {
      ...unary,
      ratio: `${((unary.opsPerSec / echo.opsPerSec) * 100).toFixed(0)}% of echo (target >= 60%: ${met(unary.opsPerSec >= 0.6 * echo.opsPerSec)})`,
    },
    { ...echo, ratio: `${x(echo.opsPerSec, unary.opsPerSec)} of broker unary (transport ceiling)` },
  ];
}

async function main(): Promise<Row[]> {
  switch (scenario) {
    case 'publish':
      return [await onBroker((t) => publishUnary(t))];
    case 'publish-stream':
      return [await onBroker((t) => publishStream(t))];
    case 'fetch':
      return [await onBroker(fetch)];
    case 'subscribe':
      return onBroker((t) => fanOut(t, Number(values.subscribers ?? '100'), RATE > 0 ? RATE : 1000, 'fan-out'));
    case 'e2e':
      return onBroker(e2e);
    case 'idle': {
      // The grpc-js echo server holding the same streams open is the transport's floor.
      const n = Number(values.subscribers ?? '10000');
      const broker = await onBroker((t) => idle(t, n));
      const echo = await onServer(startEcho, (s) =>
        idle({ host: '127.0.0.1', port: s.port, pid: s.pid }, n, 'grpc-js echo server'),
      );
      return [...broker, ...echo];
    }
    case 'mixed':
      return onBroker(mixed);
    case 'compare':
      return compare();
    default:
      console.error(
        `unknown scenario "${scenario}": publish | publish-stream | fetch | subscribe | e2e | idle | mixed | compare`,
      );
      process.exit(2);
  }
}

const started = Date.now();
const rows = await main();
if (values.json) {
  console.log(
    JSON.stringify(
      {
        scenario,
        options: {
          seconds: SECONDS,
          warmup: WARMUP,
          payload: PAYLOAD,
          inflight: INFLIGHT,
          rate: RATE,
          connections: CONNECTIONS,
          subjects: SUBJECTS,
          fsync: values.fsync,
          client: CLIENT,
          target: values.target ?? null,
        },
        results: rows,
      },
      null,
      2,
    ),
  );
} else {
  const warm =
    CLIENT === 'go'
      ? `loadgen rows measured for ${SECONDS} s after ${WARMUP} s of warm-up that count in neither rates nor percentiles`
      : `latency percentiles of the Node clients without the first ${WARMUP} s (warm-up)`;
  console.log(
    `\n${scenario}: ${PAYLOAD} B payloads, ${SECONDS} s per measurement, ${warm}, ${((Date.now() - started) / 1000).toFixed(0)} s in all\n`,
  );
  console.log(table(rows, scenario === 'compare' ? 'ratio to the broker / target' : 'notes'));
}
