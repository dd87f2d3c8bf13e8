import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { body, tempLog } from './test-support/temp-log.js';

describe('LevelDbLog', () => {
  describe('when appends run concurrently', () => {
    it('should give each subject dense ids from 1 in call order', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.constantFrom('a', 'b', 'c.d', 'é'), { minLength: 1, maxLength: 300 }),
          async (subjects) => {
            const ctx = await tempLog();
            try {
              const ids = await Promise.all(
                subjects.map((subject, i) => ctx.log.append({ subject, body: body(`m${i}`), expirationSeconds: 0 })),
              );
              const next = new Map<string, number>();
              subjects.forEach((subject, i) => {
                const expected = (next.get(subject) ?? 0) + 1;
                next.set(subject, expected);
                assert.equal(ids[i], expected);
              });
              for (const [subject, last] of next) {
                const all = await ctx.log.readRange(subject, 1, { maxRecords: 10_000, maxBytes: 1 << 30 });
                assert.deepEqual(
                  all.map((r) => r.offset),
                  Array.from({ length: last }, (_, k) => k + 1),
                );
              }
            } finally {
              await ctx.dispose();
            }
          },
        ),
        { numRuns: 15 },
      );
    });

    it('should refuse an appendMany that names more than one subject, appending nothing', async () => {
      const ctx = await tempLog();
      try {
        await assert.rejects(
          ctx.log.appendMany([
            { subject: 'a', body: body('1'), expirationSeconds: 0 },
            { subject: 'b', body: body('2'), expirationSeconds: 0 },
          ]),
          { name: 'InvalidArgumentError', message: 'appendMany appends to one subject: got "a" and "b"' },
        );
        assert.equal(await ctx.log.subjectInfo('a'), undefined);
      } finally {
        await ctx.dispose();
      }
    });

    it('should assign consecutive ids to appendMany in input order', async () => {
      const ctx = await tempLog();
      try {
        await ctx.log.append({ subject: 's', body: body('x'), expirationSeconds: 0 });
        const ids = await ctx.log.appendMany(
          ['a', 'b', 'c'].map((t) => ({ subject: 's', body: body(t), expirationSeconds: 0 })),
        );
        assert.deepEqual(ids, [2, 3, 4]);
        const rec = await ctx.log.get('s', 3);
        assert.equal(rec.kind, 'record');
        if (rec.kind === 'record') assert.equal(Buffer.from(rec.record.body).toString(), 'b');
      } finally {
        await ctx.dispose();
      }
    });
  });
});
