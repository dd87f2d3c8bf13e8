import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { LogRecord, TailCursor } from '../core/index.js';
import { STORED_BATCH } from './tail-cursor.js';
import { body, tempLog } from './test-support/temp-log.js';

async function collect(cursor: TailCursor, count: number): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  while (out.length < count) {
    const batch = await cursor.next();
    if (batch.length === 0) break;
    out.push(...batch);
  }
  return out;
}

describe('TailCursor', () => {
  describe('when replaying from an offset while publishers keep appending', () => {
    it('should deliver every id from the start, in order, with no gap and no duplicate', async () => {
      const ctx = await tempLog({ tailCacheRecords: 64 });
      try {
        for (let i = 0; i < 500; i++) await ctx.log.append({ subject: 's', body: body(`m${i}`), expirationSeconds: 0 });
        const cursor = await ctx.log.tail('s', 100);
        const reading = collect(cursor, 4401);
        const writers = Array.from({ length: 8 }, async () => {
          for (let i = 0; i < 500; i++)
            await ctx.log.append({ subject: 's', body: body('live'), expirationSeconds: 0 });
        });
        await Promise.all(writers);
        const got = await reading;
        assert.deepEqual(
          got.map((r) => r.offset),
          Array.from({ length: 4401 }, (_, i) => i + 100),
        );
        cursor.close();
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when appends and reads interleave in any order', () => {
    it('should deliver exactly the ids from its start to the head, in order, whatever the cache size', async () => {
      const step = fc.oneof(
        fc.record({ kind: fc.constant('append' as const), n: fc.integer({ min: 1, max: 12 }) }),
        fc.record({ kind: fc.constant('read' as const), max: fc.integer({ min: 1, max: 9 }) }),
      );
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: 8 }),
          fc.integer({ min: 0, max: 20 }),
          fc.option(fc.nat({ max: 25 }), { nil: undefined }),
          fc.array(step, { maxLength: 30 }),
          async (cacheRecords, preload, startPick, steps) => {
            const ctx = await tempLog({ tailCacheRecords: cacheRecords, segmentMaxRecords: 7 });
            try {
              let assigned = 0;
              const append = (): Promise<number> =>
                ctx.log.append({ subject: 's', body: body(String(++assigned)), expirationSeconds: 0 });
              for (let i = 0; i < preload; i++) await append();
              // undefined: 'live'; otherwise a start in [1, preload + 1].
              const from = startPick === undefined ? 'live' : (startPick % (preload + 1)) + 1;
              const cursor = await ctx.log.tail('s', from);
              const first = from === 'live' ? preload + 1 : from;
              const got: LogRecord[] = [];
              const pending: Array<Promise<number>> = [];
              for (const st of steps) {
                if (st.kind === 'append') for (let i = 0; i < st.n; i++) pending.push(append());
                // Only read when something is (or will be) there to read, so next() cannot wait for ever.
                else if (cursor.position <= assigned) got.push(...(await cursor.next(st.max)));
              }
              await Promise.all(pending);
              while (cursor.position <= assigned) got.push(...(await cursor.next(5)));
              cursor.close();
              assert.deepEqual(
                got.map((r) => r.offset),
                Array.from({ length: assigned - first + 1 }, (_, i) => first + i),
              );
              for (const r of got) assert.equal(Buffer.from(r.body).toString(), String(r.offset));
            } finally {
              await ctx.dispose();
            }
          },
        ),
        { numRuns: 25 },
      );
    });
  });

  describe("when started 'live'", () => {
    it('should deliver only records appended after it was opened', async () => {
      const ctx = await tempLog();
      try {
        await ctx.log.append({ subject: 's', body: body('old'), expirationSeconds: 0 });
        const cursor = await ctx.log.tail('s', 'live');
        await ctx.log.append({ subject: 's', body: body('new'), expirationSeconds: 0 });
        const [first] = await cursor.next();
        assert.equal(first?.offset, 2);
        assert.equal(Buffer.from(first!.body).toString(), 'new');
        cursor.close();
        assert.deepEqual(await cursor.next(), []);
      } finally {
        await ctx.dispose();
      }
    });

    it('should wait without polling and wake on the next append', async () => {
      const ctx = await tempLog();
      try {
        const cursor = await ctx.log.tail('quiet', 'live');
        assert.equal(await ctx.log.subjectInfo('quiet'), undefined);
        const waiting = cursor.next();
        const timeout = new Promise((resolve) => setTimeout(() => resolve('timeout'), 50));
        assert.equal(await Promise.race([waiting, timeout]), 'timeout');
        await ctx.log.append({ subject: 'quiet', body: body('x'), expirationSeconds: 0 });
        assert.equal((await waiting)[0]?.offset, 1);
        cursor.close();
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when a start offset is out of range', () => {
    it('should reject ids beyond the next id and start low ids at the first stored one', async () => {
      const ctx = await tempLog({ segmentMaxRecords: 3 });
      try {
        for (let i = 0; i < 7; i++) await ctx.log.append({ subject: 's', body: body('x'), expirationSeconds: 0 });
        await assert.rejects(ctx.log.tail('s', 9), {
          name: 'InvalidIdError',
          message: 'id 9 was never published on subject "s": from_id is beyond the next id 8',
        });
        await assert.rejects(ctx.log.tail('s', 1.5), {
          name: 'InvalidIdError',
          message: 'id 1.5 was never published on subject "s": from_id 1.5 is not an integer',
        });
        const atNext = await ctx.log.tail('s', 8);
        assert.equal(atNext.position, 8);
        atNext.close();
        await ctx.log.deleteSegment({ subject: 's', baseOffset: 1 });
        const low = await ctx.log.tail('s', 1);
        assert.deepEqual(
          (await low.next()).map((r) => r.offset),
          [4, 5, 6, 7],
        );
        low.close();
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when a reader is slow', () => {
    it('should not hold back appends or a fast reader, and catch up from disk', async () => {
      const ctx = await tempLog({ tailCacheRecords: 128 });
      try {
        const slow = await ctx.log.tail('s', 1);
        const fast = await ctx.log.tail('s', 1);
        const fastDone = collect(fast, 20_000);
        const started = Date.now();
        for (let i = 0; i < 200; i++) {
          await Promise.all(
            Array.from({ length: 100 }, () =>
              ctx.log.append({ subject: 's', body: Buffer.alloc(64), expirationSeconds: 0 }),
            ),
          );
        }
        assert.equal((await fastDone).length, 20_000);
        assert.ok(Date.now() - started < 30_000);
        assert.equal(slow.lag(), 20_000);
        const slowAll = await collect(slow, 20_000);
        assert.deepEqual(
          slowAll.map((r) => r.offset),
          Array.from({ length: 20_000 }, (_, i) => i + 1),
        );
        slow.close();
        fast.close();
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when records near the head are deleted', () => {
    it('should not serve deleted records from the shared cache', async () => {
      const ctx = await tempLog({ segmentMaxRecords: 3 });
      try {
        const cursor = await ctx.log.tail('s', 1);
        for (let i = 0; i < 4; i++) await ctx.log.append({ subject: 's', body: body(`m${i}`), expirationSeconds: 0 });
        await ctx.log.deleteRecords({ subject: 's', baseOffset: 1 }, (r) => r.offset === 2);
        assert.deepEqual(await ctx.log.get('s', 2), { kind: 'removed', firstOffset: 1 });
        const got = await collect(cursor, 3);
        assert.deepEqual(
          got.map((r) => r.offset),
          [1, 3, 4],
        );
        cursor.close();
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when many cursors read the same subject', () => {
    it('should hand cursors near the head the same record objects, and a lagging cursor small batches of its own from disk', async () => {
      const ctx = await tempLog({ tailCacheRecords: 100 });
      try {
        for (let i = 0; i < 300; i++) await ctx.log.append({ subject: 's', body: body(`m${i}`), expirationSeconds: 0 });
        const a = await ctx.log.tail('s', 'live');
        const b = await ctx.log.tail('s', 'live');
        const lagging = await ctx.log.tail('s', 1);
        await Promise.all(
          Array.from({ length: 10 }, () => ctx.log.append({ subject: 's', body: body('live'), expirationSeconds: 0 })),
        );
        const [fromA, fromB] = [await a.next(), await b.next()];
        assert.equal(fromA.length, 10);
        assert.ok(
          fromA.every((r, i) => r === fromB[i]),
          'the same objects, so per-record work can be shared',
        );
        assert.equal(a.lastBatchShared, true);
        const old = await lagging.next();
        assert.equal(lagging.lastBatchShared, false);
        assert.equal(old.length, STORED_BATCH, 'a disk batch is what one lagging subscriber holds: kept small');
        assert.equal(old[0]?.offset, 1);
        for (const c of [a, b, lagging]) c.close();
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when the log closes', () => {
    it('should end open cursors with an empty batch', async () => {
      const ctx = await tempLog();
      const cursor = await ctx.log.tail('s', 'live');
      const waiting = cursor.next();
      await ctx.log.close();
      assert.deepEqual(await waiting, []);
      await ctx.reopen();
      await ctx.dispose();
    });
  });
});
