// npm run bench -- <scenario> [options]: the load client.
//   publish         unary Publish with ghz (native; --rate for an open model, else --inflight closed loop)
//   publish-stream  PublishStream from --connections worker threads, --inflight each (or --rate in total, open model)
//   fetch           Fetch of published ids with ghz
//   subscribe       fan-out: --subscribers streams on one subject while a publisher runs at --rate
//   e2e             publish-to-delivery latency, 1 subscriber, publisher at --rate (open model, timed by the receiver)
//   mixed           publish-stream + subscribers + fetch at once
//   compare         broker (fsync never and batch) vs NATS JetStream, Redis Streams and a grpc-js echo server
// Options: --target host:port (default: start a broker here), --fsync batch|never, --seconds, --payload, --inflight,
//   --rate, --connections, --subscribers, --json (machine output), --md (Markdown table, the default).
import { parseArgs } from 'node:util';
import { ghzUnary, type LoadResult } from './support/ghz.js';
import { rssBytes, startBroker, startEcho, startNats, startRedis, type Running } from './support/processes.js';
import { startWorkers, summarize, table } from './support/workers.js';
import type { WorkerTask } from './support/load-worker.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    target: { type: 'string' },
    fsync: { type: 'string', default: 'never' },
    seconds: { type: 'string', default: '10' },
    payload: { type: 'string', default: '1024' },
    inflight: { type: 'string', default: '64' },
    rate: { type: 'string', default: '0' },
    connections: { type: 'string', default: '2' },
    subscribers: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});
const scenario = positionals[0] ?? 'compare';
const SECONDS = Number(values.seconds);
const PAYLOAD = Number(values.payload);
const INFLIGHT = Number(values.inflight);
const RATE = Number(values.rate);
const CONNECTIONS = Math.max(1, Number(values.connections));
const SUBSCRIBERS = Number(values.subscribers);
const body64 = Buffer.alloc(PAYLOAD, 1).toString('base64');

function progress(label: string): () => void {
  const started = Date.now();
  const timer = setInterval(() => {
    if (!values.json) process.stderr.write(`\r${label}: ${((Date.now() - started) / 1000).toFixed(0)}s / ${SECONDS}s   `);
  }, 1000);
  return () => {
    clearInterval(timer);
    if (!values.json) process.stderr.write('\r' + ' '.repeat(60) + '\r');
  };
}

async function target<T>(work: (port: number, host: string, pid?: number) => Promise<T>, fsync = String(values.fsync)): Promise<T> {
  if (values.target !== undefined) {
    const [host, port] = values.target.split(':');
    return work(Number(port), host ?? '127.0.0.1');
  }
  const broker = await startBroker({ BROKER_FSYNC: fsync });
  try {
    return await work(broker.port, '127.0.0.1', broker.pid);
  } finally {
    await broker.stop();
  }
}

function streamTasks(port: number, host: string, subject: string, seconds = SECONDS): WorkerTask[] {
  return Array.from({ length: CONNECTIONS }, (_, i) => ({
    kind: 'broker-stream' as const, port, host, subject: `${subject}.${i}`, inflight: INFLIGHT, payload: PAYLOAD, seconds,
    ...(RATE > 0 ? { rate: RATE / CONNECTIONS } : {}),
  }));
}

async function publishStream(name: string, port: number, host = '127.0.0.1'): Promise<LoadResult> {
  const done = progress(name);
  const w = startWorkers(streamTasks(port, host, 'bench.stream'));
  const r = summarize(name, await w.done, PAYLOAD);
  done();
  return r;
}

async function unaryPublish(name: string, port: number): Promise<LoadResult> {
  const done = progress(name);
  const r = await ghzUnary({ name, port, call: 'broker.Broker/Publish', data: { subject: 'bench.unary', body: body64, expirationSeconds: 0 }, concurrency: INFLIGHT, seconds: SECONDS, payloadBytes: PAYLOAD, ...(RATE > 0 ? { rps: RATE } : {}) });
  done();
  return r;
}

async function fanOut(port: number, host: string, subscribers: number, pid?: number): Promise<LoadResult & { rssMb?: number }> {
  const workers = subscribers === 1 ? 1 : 2;
  const subs = startWorkers(Array.from({ length: workers }, () => ({ kind: 'subscribe' as const, port, host, subject: 'bench.fan', streams: Math.ceil(subscribers / workers), seconds: SECONDS + 1 })));
  await subs.ready;
  const rssBefore = pid === undefined ? 0 : rssBytes(pid);
  const done = progress(`subscribe x${subscribers}`);
  const pub = startWorkers([{ kind: 'broker-stream', port, host, subject: 'bench.fan', inflight: INFLIGHT, payload: Math.max(PAYLOAD, 8), seconds: SECONDS, ...(RATE > 0 ? { rate: RATE } : {}) }]);
  const [published, delivered] = await Promise.all([pub.done, subs.done]);
  const rssAfter = pid === undefined ? 0 : rssBytes(pid);
  done();
  const p = summarize('publisher', published, PAYLOAD);
  const d = summarize(`${subscribers} subscriber(s): deliveries/s, publish-to-delivery latency (publisher ${Math.round(p.opsPerSec).toLocaleString('en')}/s)`, delivered, PAYLOAD);
  return { ...d, ...(pid === undefined ? {} : { rssMb: (rssAfter - rssBefore) / 1e6 }) };
}

async function peer(start: () => Promise<Running>, kind: 'nats' | 'redis-xadd', name: string, inflight: number): Promise<LoadResult> {
  const server = await start();
  try {
    if (kind === 'nats') {
      // The stream must exist before acked publishes; create it with a throwaway JetStream manager.
      const { connect } = await import('nats');
      const nc = await connect({ servers: `127.0.0.1:${server.port}` });
      const jsm = await nc.jetstreamManager();
      await jsm.streams.add({ name: 'BENCH', subjects: ['bench.>'], storage: 'file' as never });
      await nc.close();
    }
    const done = progress(name);
    const w = startWorkers(Array.from({ length: CONNECTIONS }, (_, i) => ({ kind, port: server.port, subject: `bench.peer.${i}`, inflight, payload: PAYLOAD, seconds: SECONDS })));
    const r = summarize(name, await w.done, PAYLOAD);
    done();
    return r;
  } finally {
    await server.stop();
  }
}

function report(rows: Array<LoadResult & { ratio?: string }>): void {
  if (values.json) console.log(JSON.stringify({ scenario, seconds: SECONDS, payload: PAYLOAD, inflight: INFLIGHT, rate: RATE, connections: CONNECTIONS, results: rows }, null, 2));
  else console.log(table(rows, 'ratio'));
}

const ratio = (a: LoadResult, b: LoadResult): string => `${(a.opsPerSec / b.opsPerSec).toFixed(2)}x`;

switch (scenario) {
  case 'publish':
    report([await target((port) => unaryPublish(`unary Publish, ${INFLIGHT} in flight`, port))]);
    break;
  case 'publish-stream':
    report([await target((port, host) => publishStream(`PublishStream, ${CONNECTIONS} x ${INFLIGHT} in flight${RATE > 0 ? ` at ${RATE}/s` : ''}`, port, host))]);
    break;
  case 'fetch':
    report([
      await target(async (port) => {
        await unaryPublish('fill', port);
        return ghzUnary({ name: `Fetch, ${INFLIGHT} in flight`, port, call: 'broker.Broker/Fetch', data: { subject: 'bench.unary', id: '{{add (mod .RequestNumber 5000) 1}}' }, concurrency: INFLIGHT, seconds: SECONDS, payloadBytes: PAYLOAD });
      }),
    ]);
    break;
  case 'subscribe':
  case 'e2e': {
    const rows = await target(async (port, host, pid) => {
      const r = await fanOut(port, host, scenario === 'e2e' ? 1 : SUBSCRIBERS, pid);
      return [{ ...r, ratio: r.rssMb === undefined ? '' : `broker RSS +${r.rssMb.toFixed(0)} MB` }];
    });
    report(rows);
    break;
  }
  case 'mixed': {
    const rows = await target(async (port, host) => {
      const subs = startWorkers([{ kind: 'subscribe', port, host, subject: 'bench.stream.0', streams: SUBSCRIBERS, seconds: SECONDS + 1 }]);
      await subs.ready;
      const [pub, fetch] = await Promise.all([
        publishStream('mixed: PublishStream', port, host),
        ghzUnary({ name: 'mixed: Fetch', port, call: 'broker.Broker/Fetch', data: { subject: 'bench.stream.0', id: '{{add (mod .RequestNumber 1000) 1}}' }, concurrency: 16, seconds: SECONDS, payloadBytes: PAYLOAD }),
      ]);
      const delivered = summarize(`mixed: ${SUBSCRIBERS} subscriber(s) deliveries`, await subs.done, PAYLOAD);
      return [pub, fetch, delivered];
    });
    report(rows);
    break;
  }
  case 'compare': {
    const never = await target((port) => publishStream('broker PublishStream, fsync never', port), 'never');
    const batch = await target((port) => publishStream('broker PublishStream, fsync batch', port), 'batch');
    const nats = await peer(startNats, 'nats', 'NATS JetStream acked async publish, window 256', 256);
    const redis = await peer(startRedis, 'redis-xadd', 'Redis XADD (appendfsync everysec), 64 in flight', 64);
    const unary = await target((port) => unaryPublish('broker unary Publish (ghz, 64 in flight)', port), 'batch');
    const echo = await (async () => {
      const s = await startEcho();
      try {
        return await unaryPublish('grpc-js echo unary (ghz, 64 in flight)', s.port);
      } finally {
        await s.stop();
      }
    })();
    report([
      { ...never, ratio: '1.00x (reference)' },
      { ...batch, ratio: `${ratio(batch, never)} of fsync never; ${ratio(batch, nats)} NATS (target >= 1.0x)` },
      { ...nats, ratio: `broker(never)/NATS = ${ratio(never, nats)} (target >= 1.5x)` },
      { ...redis, ratio: `broker(never)/Redis = ${ratio(never, redis)} (target >= 0.75x)` },
      { ...unary, ratio: `${((unary.opsPerSec / echo.opsPerSec) * 100).toFixed(0)}% of echo (target >= 60%)` },
      { ...echo, ratio: 'transport ceiling' },
    ]);
    break;
  }
  default:
    console.error(`unknown scenario "${scenario}": publish | publish-stream | fetch | subscribe | e2e | mixed | compare`);
    process.exit(2);
}
