// The three loads that ran a broker out of memory in issue 11, scaled down for a 2-core test machine, each run against
// a broker child process and measured from /proc: one huge FetchRange page, non-reading subscribers fed large
// messages, and many concurrent large unary publishes on one connection. The e2e tests assert on what these return;
// the fault suite prints them as rows.
import { credentials, type ServiceError } from '@grpc/grpc-js';
import { BrokerClient, type FetchRangeResponse } from '../../proto/gen/broker.js';
import { failure, fetchMessage, publish, subscribe, type BrokerProcess } from './broker-process.js';
import { MiB, readRss } from './rss.js';

/** A client that accepts any message size, so what limits a page is the broker, not the client. */
export function unboundedClient(broker: BrokerProcess): BrokerClient {
  return new BrokerClient(broker.address, credentials.createInsecure(), {
    'grpc.max_receive_message_length': -1,
    'grpc.max_send_message_length': -1,
  });
}

function body(n: number, size: number): Buffer {
  return Buffer.alloc(size, n % 251);
}

function fetchRange(client: BrokerClient, subject: string, fromId: number, maxBytes: number) {
  return new Promise<FetchRangeResponse>((resolve, reject) =>
    client.fetchRange({ subject, fromId, maxMessages: 10_000, maxBytes }, (err, res) =>
      err ? reject(err) : resolve(res),
    ),
  );
}

export interface PageLoad {
  readonly stored: number;
  /** Body bytes in the one page asked for with max_bytes = everything stored. */
  readonly pageBytes: number;
  readonly nextId: number;
  /** Records read by paging on with next_id to the end. */
  readonly pagedRecords: number;
  readonly pages: number;
  readonly rssPeakGrowth: number;
  readonly rssPeak: number;
}

/** Stores `total` bytes in records of `recordSize`, then asks for all of it in one FetchRange page and pages on. */
export async function hugePage(broker: BrokerProcess, total = 64 * MiB, recordSize = MiB): Promise<PageLoad> {
  const subject = 'big-pages';
  const client = unboundedClient(broker);
  try {
    const count = total / recordSize;
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < count) await publish(client, subject, body(next++, recordSize));
      }),
    );
    const pid = broker.child.pid ?? 0;
    const before = await readRss(pid);
    const page = await fetchRange(client, subject, 1, total);
    const pageBytes = page.messages.reduce((sum, m) => sum + m.body.length, 0);
    let pagedRecords = page.messages.length;
    let pages = 1;
    for (let from = page.nextId; from <= count; pages++) {
      const more = await fetchRange(client, subject, from, total);
      pagedRecords += more.messages.length;
      from = more.nextId;
    }
    const after = await readRss(pid);
    return {
      stored: count,
      pageBytes,
      nextId: page.nextId,
      pagedRecords,
      pages,
      rssPeakGrowth: after.hwm - before.hwm,
      rssPeak: after.hwm,
    };
  } finally {
    client.close();
  }
}

export interface SubscriberOutcome {
  readonly received: number[];
  /** SLOW_CONSUMER, OK ('end'), or the status the stream ended with. */
  readonly ending: string;
  readonly message: string;
}

export interface FanOutLoad {
  readonly published: number;
  readonly outcomes: readonly SubscriberOutcome[];
  /** SLOW_CONSUMER subscribers that got every message after resubscribing from the id their status named + 1. */
  readonly resumedComplete: number;
  readonly rssPeakGrowth: number;
  readonly rssPeak: number;
}

/**
 * `subscribers` live subscriptions that do not read, then `messages` publishes of `size` bytes; RSS is read while
 * they still do not read, then they read what they got and how they ended, and each one ended resubscribes from the
 * id its status named + 1.
 */
export async function nonReadingSubscribers(
  broker: BrokerProcess,
  subscribers = 50,
  messages = 4,
  size = 256 * 1024,
): Promise<FanOutLoad> {
  const subject = 'fan-out';
  const pid = broker.child.pid ?? 0;
  const clients = Array.from({ length: 5 }, () => unboundedClient(broker));
  try {
    const subs = await Promise.all(
      Array.from({ length: subscribers }, async (_, i) => {
        const sub = await subscribe(clients[i % clients.length] ?? broker.client(), subject);
        sub.stream.pause();
        return sub;
      }),
    );
    const before = await readRss(pid);
    for (let n = 0; n < messages; n++) await publish(broker.client(), subject, body(n, size));
    await new Promise((r) => setTimeout(r, 1500));
    const during = await readRss(pid);
    for (const sub of subs) sub.stream.resume();
    const outcomes = await Promise.all(
      subs.map(async (sub): Promise<SubscriberOutcome> => {
        await sub.waitFor(messages, 10_000).catch(() => undefined);
        // grpc-js reports the status as soon as it arrives, before the messages buffered ahead of it are read.
        await new Promise((r) => setTimeout(r, 500));
        const ended = sub.ended;
        sub.stream.cancel();
        const received = sub.received.map((m) => m.id);
        if (ended === undefined || ended === 'end') return { received, ending: 'OK', message: '' };
        return { received, ending: ended.reason ?? `code ${ended.code}`, message: ended.message };
      }),
    );
    let resumedComplete = 0;
    for (const outcome of outcomes) {
      if (outcome.ending !== 'SLOW_CONSUMER') continue;
      const last = Number(/last delivered id (\d+)/.exec(outcome.message)?.[1] ?? NaN);
      if (!Number.isInteger(last)) continue;
      const again = await subscribe(clients[0] ?? broker.client(), subject, last + 1);
      await again.waitFor(messages - last, 10_000).catch(() => undefined);
      again.stream.cancel();
      const ids = [...outcome.received, ...again.received.map((m) => m.id)];
      if (ids.length === messages && ids.every((id, i) => id === i + 1)) resumedComplete++;
    }
    return {
      published: messages,
      outcomes,
      resumedComplete,
      rssPeakGrowth: during.hwm - before.hwm,
      rssPeak: during.hwm,
    };
  } finally {
    for (const c of clients) c.close();
  }
}

export interface PublishFloodLoad {
  readonly sent: number;
  readonly acked: number;
  /** Reason (or status) -> calls that failed with it. */
  readonly refused: ReadonlyMap<string, number>;
  /** Acked ids not served back with their body. */
  readonly lost: number;
  /** Records on the subject beyond the acked ones (a refused publish that was stored anyway). */
  readonly unexpected: number;
  readonly rssPeakGrowth: number;
  readonly rssPeak: number;
}

/** `calls` unary Publish calls of `size` bytes, all at once on one connection. */
export async function publishFlood(broker: BrokerProcess, calls = 96, size = MiB - 1024): Promise<PublishFloodLoad> {
  const subject = 'flood';
  const client = unboundedClient(broker);
  const pid = broker.child.pid ?? 0;
  try {
    const before = await readRss(pid);
    const refused = new Map<string, number>();
    const acked = new Map<number, Buffer>();
    await Promise.all(
      Array.from({ length: calls }, async (_, n) => {
        const b = body(n, size);
        try {
          acked.set(await publish(client, subject, b), b);
        } catch (err) {
          const { reason, code } = failure(err as ServiceError);
          const key = reason ?? `code ${code}`;
          refused.set(key, (refused.get(key) ?? 0) + 1);
        }
      }),
    );
    const after = await readRss(pid);
    let lost = 0;
    for (const [id, b] of acked) {
      const m = await fetchMessage(client, subject, id).catch(() => undefined);
      if (m === undefined || !Buffer.from(m.body).equals(b)) lost++;
    }
    const info = await new Promise<{ count: number }>((resolve, reject) =>
      client.getSubject({ subject }, (err, res) => (err ? reject(err) : resolve(res))),
    ).catch(() => ({ count: 0 }));
    return {
      sent: calls,
      acked: acked.size,
      refused,
      lost,
      unexpected: info.count - acked.size,
      rssPeakGrowth: after.hwm - before.hwm,
      rssPeak: after.hwm,
    };
  } finally {
    client.close();
  }
}
