// One load-generating worker thread. The main thread starts several so the load generator is not held to one core
// (a Node grpc-js client spends ~165 µs of CPU per unary call); each worker owns its own channel(s).
// Latency is recorded in microseconds into an HDR histogram; the worker posts its running count every second.
//
// Two load models:
//   closed: `inflight` operations outstanding at all times; latency from send to acknowledgement.
//   open (`rate` > 0): operation i is due at start + i/rate whatever happened to earlier ones, and its latency counts
//     from when it was due, not when it was sent, so a stall shows in the percentiles (no coordinated omission).
import { credentials, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import { connect as natsConnect } from 'nats';
import { parentPort, workerData } from 'node:worker_threads';
import { BrokerClient, type MessageResponse, type PublishResponse } from '../../proto/gen/broker.js';
import { encodeHistogram, latencyHistogram } from './stats.js';

interface Common {
  host: string;
  port: number;
  /** Subject prefix; with `subjects` > 1, operations go round-robin over `${subject}.0` .. `${subject}.${subjects-1}`. */
  subject: string;
  subjects: number;
  seconds: number;
  /**
   * Seconds at the start whose operations count in rates but not in latency percentiles: the JIT of client and
   * server is cold then, and at a fixed rate the queue built in the first second takes the next to drain.
   */
  warmup?: number;
}
interface Load extends Common {
  inflight: number;
  payload: number;
  /** Operations per second for this worker (open model); 0 = closed loop. */
  rate: number;
}

export type WorkerTask =
  | ({ kind: 'unary' } & Load)
  | ({ kind: 'stream' } & Load)
  | ({ kind: 'fetch'; maxId: number } & Load)
  | ({ kind: 'nats' } & Load)
  | ({ kind: 'redis-xadd' } & Load)
  | ({ kind: 'subscribe'; streams: number; streamsPerChannel: number } & Common);

export interface WorkerResult {
  count: number;
  errors: number;
  seconds: number;
  histogram: string;
  firstError?: string;
}

export type WorkerMessage = { type: 'ready' } | { type: 'progress'; count: number } | ({ type: 'done' } & WorkerResult);

const task = workerData as WorkerTask;
const post = (m: WorkerMessage): void => parentPort?.postMessage(m);
const h = latencyHistogram();
let count = 0;
let errors = 0;
let firstError: string | undefined;

function nowUs(): number {
  // CLOCK_MONOTONIC: the same clock in every thread and process on this host, so a receiver can time a sender.
  return Number(process.hrtime.bigint() / 1000n);
}

function subjectOf(i: number): string {
  return task.subjects > 1 ? `${task.subject}.${i % task.subjects}` : task.subject;
}

function fail(err: unknown): void {
  errors += 1;
  firstError ??= err instanceof Error ? err.message : String(err);
}

/** Operations sent (or due) before this are warm-up: counted, not put in the histogram. Set when the load starts. */
let recordFromUs = Number.POSITIVE_INFINITY;

function record(startUs: number): void {
  if (startUs >= recordFromUs) h.recordValue(Math.max(1, nowUs() - startUs));
  count += 1;
}

/** The body: `payload` bytes whose first 8 carry a µs timestamp (publish time, or due time in the open model). */
function stamped(payload: number, atUs: number): Buffer {
  const body = Buffer.alloc(Math.max(8, payload), 1);
  body.writeBigUInt64BE(BigInt(atUs), 0);
  return body;
}

function newClient(channel = 0): BrokerClient {
  return new BrokerClient(`${task.host}:${task.port}`, credentials.createInsecure(), {
    'grpc.max_receive_message_length': 64 << 20,
    // Separate connections for separate channels of one worker (grpc-js shares subchannels by default).
    'grpc.use_local_subchannel_pool': 1,
    'grpc.channel_id': channel,
  } as Record<string, number>);
}

/**
 * Runs `send(i, dueUs)` for `seconds`, closed (keeping `inflight` outstanding) or open (`rate` per second).
 * `send` resolves when operation i is acknowledged; it records its own latency.
 */
async function drive(t: Load, send: (i: number, dueUs: number) => Promise<void>): Promise<void> {
  const start = nowUs();
  const end = start + t.seconds * 1e6;
  recordFromUs = start + (t.warmup ?? 0) * 1e6;
  let next = 0;
  if (t.rate <= 0) {
    await Promise.all(
      Array.from({ length: t.inflight }, async () => {
        while (nowUs() < end) {
          const i = next++;
          await send(i, nowUs()).catch(fail);
        }
      }),
    );
    return;
  }
  const total = Math.floor(t.seconds * t.rate);
  const pending = new Set<Promise<void>>();
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const due = Math.min(total, Math.floor(((nowUs() - start) / 1e6) * t.rate));
      while (next < due) {
        const i = next++;
        const p = send(i, start + Math.round((i / t.rate) * 1e6)).catch(fail);
        pending.add(p);
        void p.finally(() => pending.delete(p));
      }
      if (next >= total) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  await Promise.all(pending);
}

async function unary(t: Extract<WorkerTask, { kind: 'unary' }>): Promise<void> {
  const client = newClient();
  await drive(
    t,
    (i, due) =>
      new Promise<void>((resolve, reject) => {
        client.publish(
          { subject: subjectOf(i), body: stamped(t.payload, due), expirationSeconds: 0 },
          (err: ServiceError | null) => {
            if (err) return reject(err);
            record(due);
            resolve();
          },
        );
      }),
  );
  client.close();
}

async function fetch(t: Extract<WorkerTask, { kind: 'fetch' }>): Promise<void> {
  const client = newClient();
  await drive(
    t,
    (i, due) =>
      new Promise<void>((resolve, reject) => {
        const id = 1 + ((i * 7919) % t.maxId);
        client.fetch({ subject: subjectOf(i), id }, (err: ServiceError | null, m?: MessageResponse) => {
          if (err) return reject(err);
          if (m?.id !== id) return reject(new Error(`Fetch(${id}) returned id ${m?.id}`));
          record(due);
          resolve();
        });
      }),
  );
  client.close();
}

/** PublishStream: acks come in request order, so a FIFO of due times pairs each ack with its request. */
async function stream(t: Extract<WorkerTask, { kind: 'stream' }>): Promise<void> {
  const client = newClient();
  const call = client.publishStream();
  const waiting: Array<{ due: number; resolve: () => void }> = [];
  let blocked: Array<() => void> = [];
  let broken: Error | undefined;
  call.on('data', (_r: PublishResponse) => {
    const w = waiting.shift();
    if (w === undefined) return;
    record(w.due);
    w.resolve();
  });
  call.on('drain', () => {
    const b = blocked;
    blocked = [];
    for (const r of b) r();
  });
  call.on('error', (err: Error) => {
    broken = err;
    for (const w of waiting.splice(0)) w.resolve();
  });
  await drive(t, async (i, due) => {
    if (broken) throw broken;
    const acked = new Promise<void>((resolve) => waiting.push({ due, resolve }));
    if (!call.write({ subject: subjectOf(i), body: stamped(t.payload, due), expirationSeconds: 0 })) {
      await new Promise<void>((r) => blocked.push(r));
    }
    await acked;
    if (broken) throw broken;
  });
  call.end();
  client.close();
}

async function nats(t: Extract<WorkerTask, { kind: 'nats' }>): Promise<void> {
  const nc = await natsConnect({ servers: `${t.host}:${t.port}` });
  const js = nc.jetstream();
  await drive(t, async (i, due) => {
    await js.publish(subjectOf(i), stamped(t.payload, due));
    record(due);
  });
  await nc.close();
}

async function redisXadd(t: Extract<WorkerTask, { kind: 'redis-xadd' }>): Promise<void> {
  const redis = new Redis(t.port, t.host, { enableAutoPipelining: false });
  await drive(t, async (i, due) => {
    await redis.xadd(subjectOf(i), '*', 'body', stamped(t.payload, due));
    record(due);
  });
  redis.disconnect();
}

/** Live subscribers (from_id 0); latency = now minus the timestamp the publisher wrote in the body. */
async function subscribe(t: Extract<WorkerTask, { kind: 'subscribe' }>): Promise<void> {
  const channels = Array.from({ length: Math.ceil(t.streams / t.streamsPerChannel) }, (_, c) => newClient(c));
  const calls: Array<ClientReadableStream<MessageResponse>> = [];
  for (let i = 0; i < t.streams; i++) {
    const channel = channels[Math.floor(i / t.streamsPerChannel)];
    if (channel === undefined) throw new Error(`no channel for stream ${i}`);
    const s = channel.subscribe({ subject: subjectOf(i), fromId: 0 });
    s.on('data', (m: MessageResponse) => {
      if (m.body.length < 8) {
        count += 1;
        return;
      }
      const due = Number(m.body.readBigUInt64BE(0));
      // The publisher's first message is due when it starts: warm-up is timed from there.
      if (recordFromUs === Number.POSITIVE_INFINITY) recordFromUs = due + (t.warmup ?? 0) * 1e6;
      record(due);
    });
    s.on('error', (err: ServiceError) => {
      if (err.code !== 1) fail(err); // 1 = CANCELLED, our own cancel() at the end
    });
    calls.push(s);
  }
  // The broker sends headers once the subscription is registered: only then is the stream counted as open.
  await Promise.all(calls.map((s) => new Promise((r) => s.once('metadata', r))));
  post({ type: 'ready' });
  await new Promise((r) => setTimeout(r, t.seconds * 1000));
  for (const s of calls) s.cancel();
  for (const c of channels) c.close();
}

const progress = setInterval(() => post({ type: 'progress', count }), 1000);
const started = Date.now();
switch (task.kind) {
  case 'unary':
    await unary(task);
    break;
  case 'fetch':
    await fetch(task);
    break;
  case 'stream':
    await stream(task);
    break;
  case 'nats':
    await nats(task);
    break;
  case 'redis-xadd':
    await redisXadd(task);
    break;
  case 'subscribe':
    await subscribe(task);
    break;
}
clearInterval(progress);
post({
  type: 'done',
  count,
  errors,
  seconds: (Date.now() - started) / 1000,
  histogram: encodeHistogram(h),
  ...(firstError === undefined ? {} : { firstError }),
});
