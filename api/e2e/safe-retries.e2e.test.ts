import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { partitionOf } from '../../core/index.js';
import { readPartitionLayout } from '../../log/index.js';
import type { BrokerClient, PublishRequest } from '../../proto/gen/broker.js';
import { failure, startBrokerProcess } from '../test-support/broker-process.js';
import { getSubject } from '../test-support/faults/acked.js';
import { publishWithRetries } from '../test-support/faults/scenarios/retry-after-timeout.js';

const req = (subject: string, body: string, idempotencyKey?: string): PublishRequest => ({
  subject,
  body: Buffer.from(body),
  expirationSeconds: 0,
  ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
});

function publishReq(client: BrokerClient, request: PublishRequest): Promise<number> {
  return new Promise((resolve, reject) => client.publish(request, (err, res) => (err ? reject(err) : resolve(res.id))));
}

function publishBatch(client: BrokerClient, messages: PublishRequest[]): Promise<number[]> {
  return new Promise((resolve, reject) =>
    client.publishBatch({ messages }, (err, res) => (err ? reject(err) : resolve(res.ids))),
  );
}

/** A subject named after `base` in the same partition as `other` (a batch is atomic within one partition). */
function inPartitionOf(other: string, base: string, partitions: number): string {
  for (let k = 0; ; k++) {
    const subject = `${base}.${k}`;
    if (partitionOf(subject, partitions) === partitionOf(other, partitions)) return subject;
  }
}

async function count(client: BrokerClient, subject: string): Promise<number> {
  try {
    return (await getSubject(client, subject)).count;
  } catch {
    return 0;
  }
}

describe('safe retries', () => {
  describe('when a publish repeats an idempotency key', () => {
    it('should answer the first id and append nothing, also after a restart, and a new id after the window', async () => {
      // Long enough for a restart of several workers on a busy machine; the wait below is counted from the publish.
      const windowMs = 10_000;
      let broker = await startBrokerProcess({ BROKER_DEDUPE_WINDOW: `${windowMs / 1000}s` });
      try {
        let client = broker.client();
        // The broker's publish time is between these two (the first publish to a subject also creates its
        // partition's database, which takes a while on a busy machine).
        const publishedAt = Date.now();
        const id = await publishReq(client, req('orders', 'a', 'order-42'));
        const ackedAt = Date.now();
        assert.equal(await publishReq(client, req('orders', 'a again', 'order-42')), id);
        assert.equal(await count(client, 'orders'), 1);
        broker = await broker.restart();
        client = broker.client();
        assert.equal(await publishReq(client, req('orders', 'a after restart', 'order-42')), id);
        assert.equal(await count(client, 'orders'), 1);
        assert.ok(Date.now() - publishedAt < windowMs, 'the restart took longer than the window: nothing was tested');
        await new Promise((r) => setTimeout(r, ackedAt + windowMs + 100 - Date.now()));
        assert.equal(await publishReq(client, req('orders', 'a after the window', 'order-42')), id + 1);
        assert.equal(await count(client, 'orders'), 2);
      } finally {
        await broker.dispose();
      }
    });

    it('should resolve concurrent publishes and batches of one key to one record', async () => {
      const broker = await startBrokerProcess();
      try {
        const client = broker.client();
        const ids = await Promise.all([
          ...Array.from({ length: 16 }, (_, i) => publishReq(client, req('pay', `p${i}`, 'same'))),
          publishBatch(client, [req('pay', 'b1', 'same'), req('other', 'b2', 'same')]).then((b) => b[0] ?? -1),
        ]);
        assert.deepEqual(new Set(ids), new Set([1]));
        assert.equal(await count(client, 'pay'), 1);
      } finally {
        await broker.dispose();
      }
    });

    it('should refuse a key over 128 bytes or with control characters, naming the field', async () => {
      const broker = await startBrokerProcess();
      try {
        const client = broker.client();
        for (const key of ['k'.repeat(129), 'a\nb']) {
          const err = failure(await publishReq(client, req('s', 'x', key)).catch((e: unknown) => e));
          assert.equal(err.code, 3);
          assert.equal(err.reason, 'INVALID_ARGUMENT');
          assert.match(err.message, /^idempotency_key must be/);
        }
      } finally {
        await broker.dispose();
      }
    });

    it('should leave no duplicates for a client that retries every publish after a timeout', async () => {
      const broker = await startBrokerProcess();
      try {
        const outcome = await publishWithRetries(broker.client(), 200);
        assert.ok(outcome.timeouts > 0, 'some first sends timed out');
        assert.equal(outcome.duplicates, 0);
        assert.equal(outcome.conflictingIds, 0);
      } finally {
        await broker.dispose();
      }
    });
  });

  describe('when the broker is SIGKILLed during multi-subject PublishBatch calls', () => {
    it('should keep every batch of one partition whole or not at all', async () => {
      let broker = await startBrokerProcess({ BROKER_FSYNC: 'batch' });
      const { partitions } = (await readPartitionLayout(broker.dataDir)) ?? assert.fail('no partition layout');
      const newSubject = (tag: string): string => inPartitionOf('hot', `new-${tag}`, partitions);
      const sent: string[] = [];
      const acked = new Set<string>();
      try {
        for (let round = 0; round < 3; round++) {
          let stop = false;
          let n = 0;
          const workers = Array.from({ length: 16 }, async () => {
            const client = broker.client();
            while (!stop) {
              // A cached subject and a brand-new one of its partition (its state loads): before, they were written in
              // two batches. Subjects of different partitions are in different databases: each partition's part is
              // atomic, the batch is not.
              const tag = `r${round}-b${n++}`;
              sent.push(tag);
              const batch = [req('hot', tag), req(newSubject(tag), tag), req(newSubject(tag), tag)];
              try {
                await publishBatch(client, batch);
                acked.add(tag);
              } catch {
                return;
              }
            }
          });
          await new Promise((r) => setTimeout(r, 300 + Math.random() * 500));
          broker.child.kill('SIGKILL');
          stop = true;
          await Promise.all(workers);
          broker = await startBrokerProcess({ BROKER_FSYNC: 'batch' }, broker.dataDir);
        }
        const client = broker.client();
        const hot = new Map<string, number>();
        for (let from = 1; ;) {
          const page = await new Promise<{ bodies: string[]; next: number }>((resolve, reject) =>
            client.fetchRange({ subject: 'hot', fromId: from, maxMessages: 1000, maxBytes: 0 }, (err, res) =>
              err
                ? reject(err)
                : resolve({ bodies: res.messages.map((m) => Buffer.from(m.body).toString()), next: res.nextId }),
            ),
          );
          for (const b of page.bodies) hot.set(b, (hot.get(b) ?? 0) + 1);
          if (page.bodies.length === 0) break;
          from = page.next;
        }
        const partial: string[] = [];
        for (const tag of sent) {
          const stored = (hot.get(tag) ?? 0) + (await count(client, newSubject(tag)));
          if (stored !== 0 && stored !== 3) partial.push(`${tag}: ${stored} of 3`);
          if (acked.has(tag) && stored !== 3) partial.push(`${tag}: acked, ${stored} of 3`);
        }
        assert.deepEqual(partial, []);
        assert.ok(acked.size > 0);
      } finally {
        await broker.dispose();
      }
    });
  });
});
