// Subscribers that truly do not read, as in issue 11's finding (1,000 of them plus one 1 MiB publish cost +1 GiB):
// raw node:http2 Subscribe streams, framed by hand, paused from the start. A paused node:http2 stream stops
// acknowledging data once its 64 KiB window is full, so what the broker sends it stays queued in the broker. (A paused
// grpc-js client does not show it: its window takes megabytes in.) Later they read what they got and how they ended,
// and each ended one resubscribes from the last id it received + 1. One subscriber that reads must get every message
// meanwhile: ending a non-reader frees nothing until its client reads, so a budget that waited for that stalled it.
import { Metadata } from '@grpc/grpc-js';
import http2 from 'node:http2';
import { MessageResponse, SubscribeRequest } from '../../proto/gen/broker.js';
import { errorReason } from '../grpc/status.js';
import { publish, subscribe, type BrokerProcess } from './broker-process.js';
import { MiB, readRss } from './rss.js';

export interface SubscriberOutcome {
  readonly received: number[];
  readonly ending: string;
  readonly message: string;
}

export interface RawFanOutLoad {
  readonly published: number;
  /** Ending: OK (served in full, still open), SLOW_CONSUMER, RESET (RST_STREAM ENHANCE_YOUR_CALM) or another. */
  readonly outcomes: readonly SubscriberOutcome[];
  /** Ended subscribers that got every message after resubscribing from their last received id + 1. */
  readonly resumedComplete: number;
  /** Messages a subscriber that reads got while the others did not read (a slow subscriber must block nobody). */
  readonly readerReceived: number;
  readonly rssPeakGrowth: number;
  readonly rssPeak: number;
}

interface RawSubscriber {
  readonly stream: http2.ClientHttp2Stream;
  readonly ids: number[];
  ending: string | undefined;
  message: string;
}

function frame(message: Uint8Array): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

/** Opens a Subscribe stream, paused; resolves once its response headers say it is registered. */
function openPaused(session: http2.ClientHttp2Session, subject: string): Promise<RawSubscriber> {
  const stream = session.request({
    ':method': 'POST',
    ':path': '/broker.Broker/Subscribe',
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  stream.pause();
  const sub: RawSubscriber = { stream, ids: [], ending: undefined, message: '' };
  let pending = Buffer.alloc(0);
  stream.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
      const end = 5 + pending.readUInt32BE(1);
      sub.ids.push(MessageResponse.decode(pending.subarray(5, end)).id);
      pending = pending.subarray(end);
    }
  });
  stream.on('trailers', (trailers) => {
    const details = trailers['grpc-status-details-bin'];
    const metadata = new Metadata();
    if (typeof details === 'string') metadata.set('grpc-status-details-bin', Buffer.from(details, 'base64'));
    const code = String(trailers['grpc-status']);
    sub.ending = code === '0' ? 'OK' : (errorReason({ metadata }) ?? `code ${code}`);
    sub.message = decodeURIComponent(String(trailers['grpc-message'] ?? ''));
  });
  stream.on('error', () => undefined);
  stream.on('close', () => {
    if (stream.rstCode === http2.constants.NGHTTP2_ENHANCE_YOUR_CALM) sub.ending ??= 'RESET';
  });
  stream.end(frame(SubscribeRequest.encode({ subject, fromId: 0 }).finish()));
  return new Promise((resolve, reject) => {
    stream.once('response', () => resolve(sub));
    stream.once('close', () => reject(new Error(`Subscribe closed before its headers (rst ${stream.rstCode})`)));
  });
}

/** Lets a subscriber read until it has every message or has ended (or 5 s pass). */
async function drain(sub: RawSubscriber, messages: number): Promise<void> {
  sub.stream.resume();
  const deadline = Date.now() + 5000;
  while (sub.ids.length < messages && !sub.stream.closed && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  if (sub.ids.length === messages) sub.ending ??= 'OK';
}

/** Resubscribes from the last id `outcome` received + 1; true when the two together are every message, in order. */
async function resumes(broker: BrokerProcess, subject: string, outcome: SubscriberOutcome, messages: number) {
  const last = outcome.received.length;
  const again = await subscribe(broker.client(), subject, last + 1);
  await again.waitFor(messages - last, 10_000).catch(() => undefined);
  again.stream.cancel();
  const ids = [...outcome.received, ...again.received.map((m) => m.id)];
  return ids.length === messages && ids.every((id, i) => id === i + 1);
}

/**
 * `subscribers` raw Subscribe streams that do not read, over `connections` connections, then `messages` publishes of
 * `size` bytes; the broker's RSS peak is read while they still do not read.
 */
export async function rawNonReadingSubscribers(
  broker: BrokerProcess,
  subscribers = 200,
  messages = 1,
  size = MiB - 1024,
  connections = 4,
): Promise<RawFanOutLoad> {
  const subject = 'raw-fan-out';
  const pid = broker.child.pid ?? 0;
  const sessions = Array.from({ length: connections }, () => http2.connect(`http://${broker.address}`));
  try {
    const share = (c: number): number =>
      Math.floor(subscribers / connections) + (c < subscribers % connections ? 1 : 0);
    const subs = await Promise.all(
      sessions.flatMap((session, c) => Array.from({ length: share(c) }, () => openPaused(session, subject))),
    );
    const reader = await subscribe(broker.client(), subject);
    const before = await readRss(pid);
    for (let n = 0; n < messages; n++) await publish(broker.client(), subject, Buffer.alloc(size, n % 251));
    await reader.waitFor(messages, 3000).catch(() => undefined);
    reader.stream.cancel();
    await new Promise((r) => setTimeout(r, 500));
    const during = await readRss(pid);
    await Promise.all(subs.map((sub) => drain(sub, messages)));
    const outcomes = subs.map((sub) => ({ received: sub.ids, ending: sub.ending ?? 'none', message: sub.message }));
    let resumedComplete = 0;
    for (const outcome of outcomes) {
      if (outcome.ending === 'OK') continue;
      if (await resumes(broker, subject, outcome, messages)) resumedComplete++;
    }
    return {
      published: messages,
      outcomes,
      resumedComplete,
      readerReceived: reader.received.length,
      rssPeakGrowth: during.hwm - before.hwm,
      rssPeak: during.hwm,
    };
  } finally {
    for (const s of sessions) s.destroy();
  }
}
