import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { body, tempLog } from './test-support/temp-log.js';

describe('LevelDbLog', () => {
  describe('when there are more subjects than the subject cache holds', () => {
    it('should evict idle subjects and reload them with their offsets intact', async () => {
      const ctx = await tempLog({ subjectCacheSize: 16 });
      try {
        for (let round = 1; round <= 3; round++) {
          await Promise.all(
            Array.from({ length: 200 }, (_, i) =>
              ctx.log.append({ subject: `s${i}`, body: body('x'), expirationSeconds: 0 }),
            ),
          );
        }
        for (let i = 0; i < 200; i += 37) {
          const info = await ctx.log.subjectInfo(`s${i}`);
          assert.deepEqual([info?.firstOffset, info?.lastOffset, info?.count], [1, 3, 3]);
        }
        assert.equal(await ctx.log.append({ subject: 's0', body: body('x'), expirationSeconds: 0 }), 4);
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when a subject is not in memory', () => {
    it('should keep call order for appends that arrive while its state loads', async () => {
      const ctx = await tempLog({ subjectCacheSize: 16 });
      try {
        await Promise.all(
          Array.from({ length: 40 }, (_, i) =>
            ctx.log.append({ subject: `s${i}`, body: body('x'), expirationSeconds: 0 }),
          ),
        );
        // s0 has been evicted: these calls wait for its state, interleaved with calls made from microtasks.
        const calls: Array<Promise<number>> = [];
        const order: string[] = [];
        for (let i = 0; i < 20; i++) {
          const tag = `m${i}`;
          order.push(tag);
          calls.push(
            i % 2 === 0
              ? ctx.log.append({ subject: 's0', body: body(tag), expirationSeconds: 0 })
              : ctx.log.appendMany([{ subject: 's0', body: body(tag), expirationSeconds: 0 }]).then(([id]) => id ?? 0),
          );
          await Promise.resolve();
        }
        const ids = await Promise.all(calls);
        assert.deepEqual(
          ids,
          Array.from({ length: 20 }, (_, i) => i + 2),
        );
        const stored = await ctx.log.readRange('s0', 2, { maxRecords: 100, maxBytes: 1 << 20 });
        assert.deepEqual(
          stored.map((r) => Buffer.from(r.body).toString()),
          order,
        );
      } finally {
        await ctx.dispose();
      }
    });

    it('should never give out an offset twice when every other cached subject is pinned by a cursor', async () => {
      const ctx = await tempLog({ subjectCacheSize: 16 });
      try {
        const cursors = await Promise.all(Array.from({ length: 16 }, (_, i) => ctx.log.tail(`busy${i}`, 'live')));
        // Appends to one subject, one per event-loop turn, while its state can only be held by those appends.
        const pending: Array<Promise<number>> = [];
        for (let i = 0; i < 60; i++) {
          pending.push(ctx.log.append({ subject: 'idle', body: body(`m${i}`), expirationSeconds: 0 }));
          await new Promise((resolve) => setImmediate(resolve));
        }
        assert.deepEqual(
          await Promise.all(pending),
          Array.from({ length: 60 }, (_, i) => i + 1),
        );
        for (const cursor of cursors) cursor.close();
        const stored = await ctx.log.readRange('idle', 1, { maxRecords: 100, maxBytes: 1 << 20 });
        assert.deepEqual(
          stored.map((r) => Buffer.from(r.body).toString()),
          Array.from({ length: 60 }, (_, i) => `m${i}`),
        );
      } finally {
        await ctx.dispose();
      }
    });
  });
});
