import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { body, tempLog } from './test-support/temp-log.js';

describe('LevelDbLog', () => {
  describe('when reading by offset', () => {
    it('should tell a record from a never-published id and keep publish time and expiration', async () => {
      let now = 1_000_000;
      const ctx = await tempLog({ now: () => now });
      try {
        await ctx.log.append({ subject: 's', body: body('one'), expirationSeconds: 30 });
        now += 5;
        await ctx.log.append({ subject: 's', body: body('two'), expirationSeconds: 0 });
        const first = await ctx.log.get('s', 1);
        assert.deepEqual(
          first.kind === 'record' && { ...first.record, body: Buffer.from(first.record.body).toString() },
          {
            subject: 's',
            offset: 1,
            body: 'one',
            publishedAtMs: 1_000_000,
            expirationSeconds: 30,
          },
        );
        assert.deepEqual(await ctx.log.get('s', 0), { kind: 'never', lastOffset: 2 });
        assert.deepEqual(await ctx.log.get('s', 3), { kind: 'never', lastOffset: 2 });
        assert.deepEqual(await ctx.log.get('nope', 1), { kind: 'never', lastOffset: 0 });
      } finally {
        await ctx.dispose();
      }
    });

    it('should page a range by count and by bytes, returning at least one record', async () => {
      const ctx = await tempLog();
      try {
        for (let i = 0; i < 50; i++)
          await ctx.log.append({ subject: 's', body: Buffer.alloc(100, i), expirationSeconds: 0 });
        const byCount = await ctx.log.readRange('s', 10, { maxRecords: 5, maxBytes: 1 << 20 });
        assert.deepEqual(
          byCount.map((r) => r.offset),
          [10, 11, 12, 13, 14],
        );
        const byBytes = await ctx.log.readRange('s', 45, { maxRecords: 100, maxBytes: 250 });
        assert.deepEqual(
          byBytes.map((r) => r.offset),
          [45, 46],
        );
        const tiny = await ctx.log.readRange('s', 1, { maxRecords: 100, maxBytes: 1 });
        assert.deepEqual(
          tiny.map((r) => r.offset),
          [1],
        );
        assert.deepEqual(await ctx.log.readRange('s', 51, { maxRecords: 10, maxBytes: 1000 }), []);
      } finally {
        await ctx.dispose();
      }
    });

    it('should not mix subjects that are prefixes of each other', async () => {
      const ctx = await tempLog();
      try {
        await ctx.log.append({ subject: 'a', body: body('a1'), expirationSeconds: 0 });
        await ctx.log.append({ subject: 'ab', body: body('ab1'), expirationSeconds: 0 });
        await ctx.log.append({ subject: 'a', body: body('a2'), expirationSeconds: 0 });
        const a = await ctx.log.readRange('a', 1, { maxRecords: 10, maxBytes: 1000 });
        assert.deepEqual(
          a.map((r) => Buffer.from(r.body).toString()),
          ['a1', 'a2'],
        );
        const subjects = await ctx.log.listSubjects({ limit: 10 });
        assert.deepEqual(
          subjects.map((s) => [s.subject, s.lastOffset]),
          [
            ['a', 2],
            ['ab', 1],
          ],
        );
        assert.deepEqual(
          (await ctx.log.listSubjects({ prefix: 'ab', limit: 10 })).map((s) => s.subject),
          ['ab'],
        );
        assert.deepEqual(
          (await ctx.log.listSubjects({ after: 'a', limit: 10 })).map((s) => s.subject),
          ['ab'],
        );
      } finally {
        await ctx.dispose();
      }
    });
  });
});
