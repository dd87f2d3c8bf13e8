// One load-generating worker thread. The main thread starts several, so the load generator is not the bottleneck
// on one core; each owns its own connection. Latency is recorded in microseconds into an HDR histogram.
import { credentials } from '@grpc/grpc-js';
import * as hdr from 'hdr-histogram-js';
import { Redis } from 'ioredis';
import { connect as natsConnect } from 'nats';
import { parentPort, workerData } from 'node:worker_threads';
import { BrokerClient, type MessageResponse, type PublishResponse } from '../../proto/gen/broker.js';

export type WorkerTask =
  | { kind: 'broker-stream'; port: number; subject: string; inflight: number; payload: number; seconds: number; rate?: number; host?: string }
  | { kind: 'nats'; port: number; subject: string; inflight: number; payload: number; seconds: number }
  | { kind: 'redis-xadd'; port: number; subject: string; inflight: number; payload: number; seconds: number }
  | { kind: 'subscribe'; port: number; subject: string; streams: number; seconds: number; host?: string };

export interface WorkerResult {
  count: number;
  seconds: number;
  histogram: string;
  rssBytes?: number;
}

const task = workerData as WorkerTask;

function histogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3, useWebAssembly: false });
}

function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** Keeps `inflight` operations running until the deadline; `send` resolves when one is acknowledged. */
async function closedLoop(inflight: number, seconds: number, send: () => Promise<void>, h: hdr.Histogram): Promise<number> {
  const deadline = Date.now() + seconds * 1000;
  let count = 0;
  await Promise.all(
    Array.from({ length: inflight }, async () => {
      while (Date.now() < deadline) {
        const t = nowUs();
        await send();
        h.recordValue(Math.max(1, nowUs() - t));
        count += 1;
      }
    }),
  );
  return count;
}

async function brokerStream(t: Extract<WorkerTask, { kind: 'broker-stream' }>, h: hdr.Histogram): Promise<number> {
  if (t.rate !== undefined && t.rate > 0) return brokerStreamAtRate(t, h);
  const client = new BrokerClient(`${t.host ?? '127.0.0.1'}:${t.port}`, credentials.createInsecure());
  const call = client.publishStream();
  const body = Buffer.alloc(t.payload, 1);
  const sent: number[] = [];
  let acked = 0;
  const deadline = Date.now() + t.seconds * 1000;
  await new Promise<void>((resolve, reject) => {
    const pump = (): void => {
      while (sent.length - acked < t.inflight && Date.now() < deadline) {
        const t0 = nowUs();
        sent.push(t0);
        // The send time rides in the body, so subscribers can time publish-to-delivery.
        if (body.length >= 8) body.writeBigUInt64BE(BigInt(t0), 0);
        if (!call.write({ subject: t.subject, body, expirationSeconds: 0 })) break;
      }
    };
    call.on('data', (_r: PublishResponse) => {
      h.recordValue(Math.max(1, nowUs() - sent[acked]!));
      acked += 1;
      if (Date.now() >= deadline && acked === sent.length) {
        call.end();
        resolve();
      } else pump();
    });
    call.on('drain', pump);
    call.on('error', reject);
    pump();
  });
  client.close();
  return acked;
}

/**
 * Open model: message i is due at start + i/rate whatever happened to earlier ones, and its latency counts from
 * when it was due (not when it was sent), so a stall shows in the percentiles instead of slowing the sender down.
 */
async function brokerStreamAtRate(t: Extract<WorkerTask, { kind: 'broker-stream' }>, h: hdr.Histogram): Promise<number> {
  const client = new BrokerClient(`${t.host ?? '127.0.0.1'}:${t.port}`, credentials.createInsecure());
  const call = client.publishStream();
  const body = Buffer.alloc(Math.max(8, t.payload), 1);
  const rate = t.rate!;
  const due: number[] = [];
  let acked = 0;
  const start = nowUs();
  const end = start + t.seconds * 1e6;
  await new Promise<void>((resolve, reject) => {
    let finished = false;
    const timer = setInterval(() => {
      const now = nowUs();
      const target = Math.min(Math.floor(((Math.min(now, end) - start) / 1e6) * rate), Math.floor(t.seconds * rate));
      while (due.length < target) {
        const at = start + Math.round((due.length / rate) * 1e6);
        due.push(at);
        body.writeBigUInt64BE(BigInt(at), 0);
        call.write({ subject: t.subject, body, expirationSeconds: 0 });
      }
      if (now >= end) {
        clearInterval(timer);
        finished = true;
        if (acked === due.length) resolve();
      }
    }, 1);
    call.on('data', () => {
      h.recordValue(Math.max(1, nowUs() - due[acked]!));
      acked += 1;
      if (finished && acked === due.length) resolve();
    });
    call.on('error', reject);
  });
  call.end();
  client.close();
  return acked;
}

async function nats(t: Extract<WorkerTask, { kind: 'nats' }>, h: hdr.Histogram): Promise<number> {
  const nc = await natsConnect({ servers: `127.0.0.1:${t.port}` });
  const js = nc.jetstream();
  const body = new Uint8Array(t.payload).fill(1);
  const count = await closedLoop(t.inflight, t.seconds, async () => void (await js.publish(t.subject, body)), h);
  await nc.close();
  return count;
}

async function redisXadd(t: Extract<WorkerTask, { kind: 'redis-xadd' }>, h: hdr.Histogram): Promise<number> {
  const redis = new Redis(t.port, '127.0.0.1');
  const body = Buffer.alloc(t.payload, 1);
  const count = await closedLoop(t.inflight, t.seconds, async () => void (await redis.xadd(t.subject, '*', 'body', body)), h);
  redis.disconnect();
  return count;
}

async function subscribe(t: Extract<WorkerTask, { kind: 'subscribe' }>, h: hdr.Histogram): Promise<number> {
  const client = new BrokerClient(`${t.host ?? '127.0.0.1'}:${t.port}`, credentials.createInsecure(), { 'grpc.max_receive_message_length': 64 << 20 });
  let count = 0;
  const streams = Array.from({ length: t.streams }, () => {
    const s = client.subscribe({ subject: t.subject, fromId: 0 });
    s.on('data', (m: MessageResponse) => {
      count += 1;
      // The publisher writes its send time (µs) in the first 8 bytes: publish-to-delivery latency.
      if (m.body.length >= 8) h.recordValue(Math.max(1, nowUs() - Number(m.body.readBigUInt64BE(0))));
    });
    s.on('error', () => undefined);
    return s;
  });
  await Promise.all(streams.map((s) => new Promise((r) => s.once('metadata', r))));
  parentPort!.postMessage({ ready: true });
  await new Promise((r) => setTimeout(r, t.seconds * 1000));
  for (const s of streams) s.cancel();
  client.close();
  return count;
}

const h = histogram();
const started = Date.now();
const count =
  task.kind === 'broker-stream' ? await brokerStream(task, h)
  : task.kind === 'nats' ? await nats(task, h)
  : task.kind === 'redis-xadd' ? await redisXadd(task, h)
  : await subscribe(task, h);
const result: WorkerResult = { count, seconds: (Date.now() - started) / 1000, histogram: hdr.encodeIntoCompressedBase64(h) };
parentPort!.postMessage(result);
