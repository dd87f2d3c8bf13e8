// Two of the loads that ran a broker out of memory in issue 11, scaled down for a 2-core test machine, each run
// against a broker child process and measured from /proc: one huge FetchRange page, and many concurrent large unary
// publishes on one connection (the third, non-reading subscribers, is raw-subscribers.ts). The e2e tests assert on
// what these return; the fault suite prints them as rows.
import { credentials, type ServiceError } from '@grpc/grpc-js';
import { BrokerClient, type FetchRangeResponse } from '../../proto/gen/broker.js';
import { failure, fetchMessage, publish, type BrokerProcess } from './broker-process.js';
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
