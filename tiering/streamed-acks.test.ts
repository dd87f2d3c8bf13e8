import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UnavailableError } from '../core/index.js';
import { MemoryColdStore } from './test-support/memory-cold-store.js';
import { publish, text } from './test-support/replicated-acks-scenario.js';
import { HeldStore, eventually, streamedLog, wipedStreamedDisk } from './test-support/streamed-acks-scenario.js';
import { Replicator } from './replicator.js';

const append = (log: {
  append: (i: { subject: string; body: Buffer; expirationSeconds: number }) => Promise<number>;
}) => log.append({ subject: 's', body: Buffer.from('x'), expirationSeconds: 0 });

describe('BROKER_ACKS=local with a cold tier (acknowledged records streamed to it behind the acks)', () => {
  describe('after commits', () => {
    it("should have the open segments' records in the cold tier without a seal", async () => {
      const cold = new MemoryColdStore();
      const ctx = await streamedLog(new HeldStore(cold));
      try {
        const acked = await publish(ctx.log, ['a', 'b'], 30);
        await eventually(() => ctx.lag().records === 0, 'lag 0');
        for (const [subject, ids] of acked) {
          for (const id of ids)
            assert.equal(text((await cold.get(subject, id)) ?? assert.fail(`${id}`)), `${subject}-${id - 1}`);
          const segments = await ctx.log.segments(subject);
          assert.ok(segments.length === 1 && segments[0]?.sealed === false, 'one segment, never sealed');
        }
        assert.deepEqual(ctx.lag(), { records: 0, oldestAtMs: undefined });
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when the cold tier refuses writes, then recovers', () => {
    it('should report the backlog as lag records and seconds, retry, report the outage once, and drain to 0', async () => {
      const cold = new MemoryColdStore();
      const store = new HeldStore(cold);
      const outages: Array<string | undefined> = [];
      // One partition: one stream (each log reports its own outage; the broker logs the first and the last).
      const ctx = await streamedLog(store, { onOutage: (err) => outages.push(err?.message) }, { partitions: 1 });
      try {
        store.refusing = true;
        const acked = await publish(ctx.log, ['a', 'b'], 20);
        await eventually(() => store.attempts >= 4, 'several retries');
        const lag = ctx.lag();
        assert.equal(lag.records, 40, 'every acked record is in the lag');
        assert.ok(lag.oldestAtMs !== undefined && Date.now() - lag.oldestAtMs >= 20, 'the oldest is seconds old');
        assert.equal(outages.length, 1, 'the outage is reported once, not per attempt');
        store.refusing = false;
        await eventually(() => ctx.lag().records === 0, 'drained to 0');
        assert.deepEqual(outages, ['cold store refusing (injected)', undefined], 'and its end once');
        for (const [subject, ids] of acked)
          for (const id of ids)
            assert.ok((await cold.get(subject, id)) !== undefined, `${subject}@${id} in the cold tier`);
      } finally {
        await ctx.dispose();
      }
    });

    it('should never delay an ack: an append resolves while the cold write is held', async () => {
      const cold = new MemoryColdStore();
      const store = new HeldStore(cold);
      const ctx = await streamedLog(store);
      try {
        store.hold();
        const acked = await Promise.race([
          append(ctx.log),
          new Promise<string>((resolve) => setTimeout(() => resolve('timed out'), 3_000).unref()),
        ]);
        assert.equal(acked, 1, 'acknowledged while the cold tier holds the write');
        assert.equal(ctx.lag().records, 1);
        assert.equal(await cold.get('s', 1), undefined, 'not in the cold tier yet');
        store.release();
        await eventually(() => ctx.lag().records === 0, 'lag 0 once released');
        assert.ok((await cold.get('s', 1)) !== undefined);
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when more is queued than its byte bound', () => {
    it('should drop the queue, seal the segments, and count them until the sealed copy is done', async () => {
      const cold = new MemoryColdStore();
      const store = new HeldStore(cold);
      const ctx = await streamedLog(store, { maxQueuedBytes: 4096 });
      try {
        store.refusing = true;
        await publish(ctx.log, ['a', 'b'], 40, { bodyBytes: 100 });
        await eventually(() => store.attempts >= 1, 'a write tried');
        assert.equal(ctx.lag().records, 80, 'dropped records still count');
        let sealed = 0;
        for (let i = 0; i < 100 && sealed < 2; i++) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          sealed = (await ctx.log.unreplicatedSegments({ limit: 100 })).length;
        }
        assert.ok(sealed >= 2, `the dropped records' segments sealed for the copy (${sealed})`);
        store.refusing = false;
        const replicator = new Replicator(ctx.log, cold, 3_600_000, undefined, null);
        for await (const ref of replicator.owed()) await replicator.replicate(ref);
        await eventually(() => ctx.lag().records === 0, 'lag 0 once copied');
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when a sealed segment is to be copied while the stream still holds records of it', () => {
    /** Ids 1-10 of subject s in a held write, 11-20 queued behind it, the segment sealed: its copy started. */
    async function sealedWhileHeld(cold: MemoryColdStore, store: HeldStore) {
      const ctx = await streamedLog(store, {}, { partitions: 1 });
      store.hold();
      await Promise.all(Array.from({ length: 10 }, () => append(ctx.log)));
      await eventually(() => store.attempts === 1, 'ids 1-10 in flight');
      await Promise.all(Array.from({ length: 10 }, () => append(ctx.log)));
      const [sealed] = await ctx.log.sealStaleSegments(Number.MAX_SAFE_INTEGER);
      assert.equal(sealed?.lastOffset, 20);
      const replicator = new Replicator(ctx.log, cold, 3_600_000, undefined, null);
      const copy = { done: false, result: undefined as unknown };
      const copying = replicator.replicate({ subject: 's', baseOffset: 1 }).then((r) => {
        copy.done = true;
        copy.result = r;
      });
      return { ctx, copy, copying };
    }

    it('should skip the copy once the stream has written the whole segment', async () => {
      const cold = new MemoryColdStore();
      const store = new HeldStore(cold);
      const { ctx, copy, copying } = await sealedWhileHeld(cold, store);
      try {
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.equal(copy.done, false, 'the copy waits for the stream');
        store.release();
        await copying;
        assert.equal(copy.result, 'skipped', 'nothing to copy: the stream wrote ids 1-20');
        assert.equal(cold.writes.get('s@1'), undefined, 'no copy was written');
        for (const id of [1, 15, 20]) assert.ok((await cold.get('s', id)) !== undefined, `id ${id} in the cold tier`);
        assert.equal((await ctx.log.segment({ subject: 's', baseOffset: 1 }))?.replicated, true);
        assert.deepEqual(ctx.lag(), { records: 0, oldestAtMs: undefined });
      } finally {
        await ctx.dispose();
      }
    });

    it("should copy it after the stream's write in flight when the stream is held longer, leaving it the queued ids", async () => {
      const cold = new MemoryColdStore();
      const store = new HeldStore(cold);
      const { ctx, copy, copying } = await sealedWhileHeld(cold, store);
      try {
        await new Promise((resolve) => setTimeout(resolve, 700));
        assert.equal(copy.done, false, 'past the wait for the stream, the copy waits for its write in flight');
        store.release();
        await copying;
        assert.deepEqual(copy.result, { rows: 20, bytes: 20 });
        // Had the held write (ids 1-10) landed after the copy, the segment row would end at 10.
        for (const id of [1, 15, 20]) assert.ok((await cold.get('s', id)) !== undefined, `id ${id} in the cold tier`);
        assert.equal(store.attempts, 1, 'ids 11-20 were left to the copy');
        assert.deepEqual(ctx.lag(), { records: 0, oldestAtMs: undefined });
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when the data dir is wiped', () => {
    it('should lose at most the reported lag, serve every other acked id from the cold tier, and reuse no id', async () => {
      const { lag, lost } = await wipedStreamedDisk(new MemoryColdStore(), 35, 6);
      assert.equal(lag, 12, 'the held records were the lag');
      assert.equal(lost, 12, 'and exactly those were lost');
    });
  });

  describe('with BROKER_MAX_REPLICATION_LAG', () => {
    it('should refuse publishes UNAVAILABLE once the lag is over the bound, and take them again after', async () => {
      const store = new HeldStore(new MemoryColdStore());
      const ctx = await streamedLog(store, { maxLagMs: 100 });
      try {
        store.hold();
        assert.equal(await append(ctx.log), 1, 'under the bound');
        await new Promise((resolve) => setTimeout(resolve, 150));
        await assert.rejects(append(ctx.log), (err: Error) => {
          assert.ok(err instanceof UnavailableError);
          assert.match(err.message, /behind, above BROKER_MAX_REPLICATION_LAG \(0\.1 s\)/);
          return true;
        });
        store.release();
        await eventually(() => ctx.lag().records === 0, 'caught up');
        assert.equal(await append(ctx.log), 2, 'taken again');
      } finally {
        await ctx.dispose();
      }
    });
  });
});
