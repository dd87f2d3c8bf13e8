// The upstream hub against a real owner: a LevelDB log behind the real BrokerService on a unix socket, reached by a
// real grpc-js client, as one worker reaches another.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { BrokerError, type LogRecord, type TailCursor } from '../../core/index.js';
import type { BrokerClient } from '../../proto/gen/broker.js';
import { OwnerWorker } from './test-support/owner-worker.js';
import { UpstreamHub } from './upstream-hub.js';
import type { UpstreamHubOptions } from './upstream-options.js';

const SUBJECT = 'orders.eu';

/** Reads batches until `count` records arrived; the ids in order, and the batches as they came. */
async function take(cursor: TailCursor, count: number): Promise<{ ids: number[]; batches: LogRecord[][] }> {
  const ids: number[] = [];
  const batches: LogRecord[][] = [];
  while (ids.length < count) {
    const batch = await cursor.next();
    if (batch.length === 0) throw new Error(`cursor ended after ${ids.length} of ${count} records`);
    batches.push([...batch]);
    for (const record of batch) ids.push(record.offset);
  }
  return { ids, batches };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

async function publishMany(owner: OwnerWorker, from: number, to: number): Promise<void> {
  for (let i = from; i <= to; i++) {
    const id = await owner.publish(SUBJECT, `m${i}`);
    assert.equal(id, i);
  }
}

async function eventually(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('UpstreamHub', () => {
  let owner: OwnerWorker;
  let client: BrokerClient;
  let hub: UpstreamHub | undefined;
  let registry: Registry;

  beforeEach(async () => {
    owner = await OwnerWorker.start();
    client = owner.client();
    registry = new Registry();
  });

  afterEach(async () => {
    hub?.close();
    hub = undefined;
    client.close();
    await owner.dispose();
  });

  function openHub(options: UpstreamHubOptions = {}): UpstreamHub {
    hub = new UpstreamHub(() => client, {
      logger: pino({ level: 'silent' }),
      registry,
      reconnectInitialMs: 20,
      reconnectMaxMs: 200,
      ...options,
    });
    return hub;
  }

  async function metric(name: string): Promise<number> {
    const found = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
    return found?.values[0]?.value ?? Number.NaN;
  }

  describe('when a subscriber asks for live messages only', () => {
    it('should deliver only the messages published after tail() returned', async () => {
      await publishMany(owner, 1, 3);
      const cursor = await openHub().tail(SUBJECT, 'live');
      assert.equal(cursor.position, 4);
      await publishMany(owner, 4, 6);
      assert.deepEqual((await take(cursor, 3)).ids, [4, 5, 6]);
      cursor.close();
    });

    it('should start a subject nobody has published to at id 1', async () => {
      const cursor = await openHub().tail('never.published', 'live');
      assert.equal(cursor.position, 1);
      await owner.publish('never.published', 'first');
      assert.deepEqual((await take(cursor, 1)).ids, [1]);
      cursor.close();
    });
  });

  describe('when a subscriber replays from id 1 while a publisher runs', () => {
    it('should deliver every id once, in order, through the join with the live stream', async () => {
      await publishMany(owner, 1, 150);
      const cursor = await openHub({ cacheRecords: 16 }).tail(SUBJECT, 1);
      const publishing = publishMany(owner, 151, 400);
      const { ids, batches } = await take(cursor, 400);
      await publishing;
      assert.deepEqual(ids, range(1, 400));
      assert.ok(
        batches.some((b) => b.length > 0),
        'read something',
      );
      cursor.close();
    });
  });

  describe('when several local cursors subscribe to one subject', () => {
    it('should open ONE upstream Subscribe and hand every cursor the same record objects', async () => {
      const h = openHub();
      const cursors = await Promise.all([h.tail(SUBJECT, 'live'), h.tail(SUBJECT, 'live'), h.tail(SUBJECT, 'live')]);
      assert.equal(h.upstreamCount, 1);
      await eventually('the upstream stream to open', () => owner.openSubscriptions === 1);
      await publishMany(owner, 1, 5);
      const reads = [];
      for (const cursor of cursors) {
        const read = await take(cursor, 5);
        assert.equal(cursor.lastBatchShared, true);
        reads.push(read.batches.flat());
      }
      const [first, ...others] = reads;
      assert.ok(first !== undefined);
      assert.deepEqual(
        first.map((r) => r.offset),
        range(1, 5),
      );
      for (const other of others) {
        assert.equal(other.length, first.length);
        other.forEach((record, i) => assert.equal(record, first[i], `record ${record.offset} is the shared object`));
      }
      assert.equal(owner.subscribeCalls, 1);
      assert.equal(owner.openSubscriptions, 1);
      assert.equal(await metric('broker_upstream_subscriptions'), 1);
      for (const cursor of cursors) cursor.close();
    });
  });

  describe('when a cursor falls behind the cache', () => {
    it('should catch up through FetchRange and see every id once, in order', async () => {
      const h = openHub({ cacheRecords: 16 });
      const fast = await h.tail(SUBJECT, 'live');
      const slow = await h.tail(SUBJECT, 'live');
      await publishMany(owner, 1, 200);
      assert.deepEqual((await take(fast, 200)).ids, range(1, 200));
      assert.ok(slow.lag() >= 200 - 1, `slow lags by ${slow.lag()}`);
      const shared: boolean[] = [];
      const ids: number[] = [];
      while (ids.length < 200) {
        const batch = await slow.next(50);
        shared.push(slow.lastBatchShared);
        for (const record of batch) ids.push(record.offset);
      }
      assert.deepEqual(ids, range(1, 200));
      assert.equal(shared[0], false, 'the first batches came from the owner');
      assert.equal(slow.lag(), 0);
      await publishMany(owner, 201, 205);
      assert.deepEqual((await take(fast, 5)).ids, range(201, 205));
      assert.deepEqual((await take(slow, 5)).ids, range(201, 205));
      assert.equal(slow.lastBatchShared, true, 'it joined the shared cache');
      assert.equal(owner.subscribeCalls, 1);
      fast.close();
      slow.close();
    });
  });

  describe('when the caches of several subjects share a small budget', () => {
    it('should still deliver every id in order, and free the bytes when the upstreams close', async () => {
      const h = openHub({ totalCacheBytes: 4096, lingerMs: 0 });
      const subjects = ['a.1', 'a.2', 'a.3'];
      const cursors = await Promise.all(subjects.map((subject) => h.tail(subject, 'live')));
      for (let i = 1; i <= 60; i++) for (const subject of subjects) await owner.publish(subject, `m${i}`);
      for (const cursor of cursors) assert.deepEqual((await take(cursor, 60)).ids, range(1, 60));
      assert.ok(h.cachedBytes > 0);
      for (const cursor of cursors) cursor.close();
      await eventually('the upstreams to close', () => h.upstreamCount === 0);
      assert.equal(h.cachedBytes, 0);
    });
  });

  describe('when the owner restarts mid-stream', () => {
    for (const graceful of [false, true])
      it(`should resume at the next id: no gap, no duplicate (${graceful ? 'drained' : 'dropped'})`, async () => {
        const h = openHub();
        const cursors = [await h.tail(SUBJECT, 'live'), await h.tail(SUBJECT, 'live')];
        await publishMany(owner, 1, 30);
        for (const cursor of cursors) assert.deepEqual((await take(cursor, 30)).ids, range(1, 30));
        if (graceful) await owner.drainAndStop();
        else owner.stop();
        // Acknowledged while no server listens: the resumed stream replays them.
        await publishMany(owner, 31, 60);
        await sleep(200);
        await owner.restart();
        await publishMany(owner, 61, 90);
        for (const cursor of cursors) assert.deepEqual((await take(cursor, 60)).ids, range(31, 90));
        assert.ok((await metric('broker_upstream_reconnects_total')) >= 1);
        assert.equal(owner.subscribeCalls >= 2, true);
        for (const cursor of cursors) cursor.close();
      });

    it("should end every cursor with INVALID_ID when the owner's ids went backwards", async () => {
      const h = openHub();
      const cursor = await h.tail(SUBJECT, 'live');
      await publishMany(owner, 1, 5);
      await take(cursor, 5);
      await owner.restart({ lost: true });
      await assert.rejects(cursor.next(), (err: unknown) => {
        assert.ok(err instanceof BrokerError);
        assert.equal(err.reason, 'INVALID_ID');
        assert.match(err.message, /from_id is beyond the next id 1/);
        return true;
      });
      assert.equal(h.upstreamCount, 0);
      cursor.close();
    });
  });

  describe('when many cursors read at their own pace through a restart of the owner', () => {
    it('should give each of them every id once, in order', async () => {
      const h = openHub({ cacheRecords: 8 });
      await publishMany(owner, 1, 40);
      const starts = [1, 'live', 20, 'live', 1, 41, 'live', 5] as const;
      const cursors = await Promise.all(starts.map((from) => h.tail(SUBJECT, from)));
      const total = 400;
      const readers = cursors.map(async (cursor, i) => {
        const from = cursor.position;
        const ids: number[] = [];
        while (ids.length < total - from + 1) {
          for (const record of await cursor.next(1 + (i % 5) * 7)) ids.push(record.offset);
          // Every other reader is slow: it falls behind the cache and reads the owner.
          if (i % 2 === 1) await sleep(1);
        }
        return { from, ids };
      });
      await publishMany(owner, 41, 200);
      owner.stop();
      await publishMany(owner, 201, 300);
      await owner.restart();
      await publishMany(owner, 301, total);
      for (const { from, ids } of await Promise.all(readers)) assert.deepEqual(ids, range(from, total));
      assert.equal(h.upstreamCount, 1);
      for (const cursor of cursors) cursor.close();
    });
  });

  describe('when the owner has removed old records', () => {
    async function withSegments(): Promise<void> {
      owner.stop();
      await owner.dispose();
      owner = await OwnerWorker.start({ segmentMaxRecords: 10 });
      client.close();
      client = owner.client();
    }

    it('should start a replay below the first retained id at the first retained id', async () => {
      await withSegments();
      await publishMany(owner, 1, 25);
      await owner.log.deleteSegment({ subject: SUBJECT, baseOffset: 1 });
      // The owner's first page (FetchRange from 1, which a cold tier could serve below 11) moves it on to 11.
      const cursor = await openHub().tail(SUBJECT, 1);
      assert.deepEqual((await take(cursor, 15)).ids, range(11, 25));
      assert.equal(cursor.position, 26);
      cursor.close();
    });

    it('should follow the ids across a removed range, by id', async () => {
      await withSegments();
      await publishMany(owner, 1, 35);
      await owner.log.deleteSegment({ subject: SUBJECT, baseOffset: 11 });
      const cursor = await openHub({ cacheRecords: 4 }).tail(SUBJECT, 1);
      await publishMany(owner, 36, 40);
      assert.deepEqual((await take(cursor, 30)).ids, [...range(1, 10), ...range(21, 40)]);
      cursor.close();
    });

    it('should jump over ids of which nothing is stored up to the last id', async () => {
      await withSegments();
      await publishMany(owner, 1, 30);
      await owner.log.sealStaleSegments(Date.now() + 86_400_000);
      await owner.log.deleteSegment({ subject: SUBJECT, baseOffset: 11 });
      await owner.log.deleteSegment({ subject: SUBJECT, baseOffset: 21 });
      const cursor = await openHub().tail(SUBJECT, 15);
      const reading = take(cursor, 2);
      await publishMany(owner, 31, 32);
      assert.deepEqual((await reading).ids, [31, 32]);
      cursor.close();
    });
  });

  describe('when from is beyond the next id', () => {
    it('should refuse with INVALID_ID, worded as the local log words it', async () => {
      await publishMany(owner, 1, 3);
      const local = await owner.log.tail(SUBJECT, 5).then(
        () => assert.fail('the local log accepted from 5'),
        (err: unknown) => err,
      );
      await assert.rejects(openHub().tail(SUBJECT, 5), (err: unknown) => {
        assert.ok(err instanceof BrokerError && local instanceof BrokerError);
        assert.equal(err.reason, 'INVALID_ID');
        assert.equal(err.message, local.message);
        assert.deepEqual(err.metadata, local.metadata);
        return true;
      });
      assert.equal(hub?.upstreamCount, 0);
    });

    it('should accept the next id itself (last + 1) and deliver from there', async () => {
      await publishMany(owner, 1, 3);
      const cursor = await openHub().tail(SUBJECT, 4);
      await publishMany(owner, 4, 4);
      assert.deepEqual((await take(cursor, 1)).ids, [4]);
      cursor.close();
    });
  });

  describe('when the last cursor closes', () => {
    it('should keep the upstream for the linger, reuse it, then close it', async () => {
      const h = openHub({ lingerMs: 150 });
      const first = await h.tail(SUBJECT, 'live');
      await eventually('the upstream stream to open', () => owner.openSubscriptions === 1);
      first.close();
      assert.deepEqual(await first.next(), [], 'a closed cursor ends');
      const second = await h.tail(SUBJECT, 'live');
      await sleep(250);
      assert.equal(h.upstreamCount, 1, 'a cursor came back within the linger');
      assert.equal(owner.subscribeCalls, 1);
      second.close();
      await eventually('the upstream to close', () => h.upstreamCount === 0 && owner.openSubscriptions === 0);
      assert.equal(await metric('broker_upstream_subscriptions'), 0);
    });
  });

  describe('when the hub closes', () => {
    it('should end waiting cursors with an empty batch and refuse new ones', async () => {
      const h = openHub();
      const cursor = await h.tail(SUBJECT, 'live');
      const waiting = cursor.next();
      h.close();
      assert.deepEqual(await waiting, []);
      await assert.rejects(
        h.tail(SUBJECT, 'live'),
        (err: unknown) => err instanceof BrokerError && err.reason === 'UNAVAILABLE',
      );
    });
  });
});
