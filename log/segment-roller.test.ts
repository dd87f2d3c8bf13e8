import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SegmentInfo } from '../core/index.js';
import { body, tempLog } from './test-support/temp-log.js';

/** Segments as subject@baseOffset. */
function refs(segments: readonly SegmentInfo[]): string[] {
  return segments.map((s) => `${s.subject}@${s.baseOffset}`);
}

describe('LevelDbLog', () => {
  describe('when segments roll', () => {
    it('should roll by record count, bytes and age, sealing the previous segment', async () => {
      let now = 0;
      const sealed: number[] = [];
      const ctx = await tempLog({ segmentMaxRecords: 3, segmentMaxBytes: 250, segmentMaxAgeMs: 1000, now: () => now });
      try {
        ctx.log.onSegmentSealed((s) => sealed.push(s.baseOffset));
        for (let i = 0; i < 7; i++)
          await ctx.log.append({ subject: 's', body: Buffer.alloc(10), expirationSeconds: 0 });
        assert.deepEqual(
          (await ctx.log.segments('s')).map((s) => [s.baseOffset, s.lastOffset, s.sealed]),
          [
            [1, 3, true],
            [4, 6, true],
            [7, 7, false],
          ],
        );
        await ctx.log.append({ subject: 'b', body: Buffer.alloc(200), expirationSeconds: 0 });
        await ctx.log.append({ subject: 'b', body: Buffer.alloc(100), expirationSeconds: 0 });
        assert.deepEqual(
          (await ctx.log.segments('b')).map((s) => [s.baseOffset, s.count, s.bytes]),
          [
            [1, 1, 200],
            [2, 1, 100],
          ],
        );
        now = 1500;
        await ctx.log.append({ subject: 's', body: Buffer.alloc(10), expirationSeconds: 0 });
        assert.deepEqual(
          (await ctx.log.segments('s')).map((s) => s.baseOffset),
          [1, 4, 7, 8],
        );
        now = 5000;
        const stale = await ctx.log.sealStaleSegments(now);
        assert.deepEqual(stale.map((s) => [s.subject, s.baseOffset]).sort(), [
          ['b', 2],
          ['s', 8],
        ]);
        assert.deepEqual(
          sealed.sort((x, y) => x - y),
          [1, 1, 2, 4, 7, 8],
        );
        const unreplicated = refs(await ctx.log.unreplicatedSegments({ limit: 100 }));
        assert.deepEqual(unreplicated, ['b@1', 'b@2', 's@1', 's@4', 's@7', 's@8']);
        await ctx.log.markReplicated({ subject: 's', baseOffset: 4 });
        assert.deepEqual(refs(await ctx.log.unreplicatedSegments({ limit: 100 })), ['b@1', 'b@2', 's@1', 's@7', 's@8']);
        const reopened = await ctx.reopen({ now: () => now });
        const segs = await reopened.segments('s');
        assert.deepEqual(
          segs.map((s) => [s.baseOffset, s.sealed, s.replicated, s.count]),
          [
            [1, true, false, 3],
            [4, true, true, 3],
            [7, true, false, 1],
            [8, true, false, 1],
          ],
        );
      } finally {
        await ctx.dispose();
      }
    });

    it('should seal only segments whose first record is older than the maximum age', async () => {
      let now = 1_000;
      const ctx = await tempLog({ segmentMaxAgeMs: 1000, now: () => now });
      try {
        await ctx.log.append({ subject: 'old', body: body('a'), expirationSeconds: 0 });
        now = 1_600;
        await ctx.log.append({ subject: 'young', body: body('b'), expirationSeconds: 0 });
        assert.deepEqual(
          (await ctx.log.sealStaleSegments(1_999)).map((s) => s.subject),
          [],
        );
        assert.deepEqual(
          (await ctx.log.sealStaleSegments(2_000)).map((s) => s.subject),
          ['old'],
        );
        assert.deepEqual(
          (await ctx.log.sealStaleSegments(2_000)).map((s) => s.subject),
          [],
        );
        const log = await ctx.reopen();
        assert.deepEqual(
          (await log.sealStaleSegments(2_600)).map((s) => s.subject),
          ['young'],
        );
        assert.deepEqual(
          (await log.allSegments({ limit: 10 })).map((s) => [s.subject, s.sealed]),
          [
            ['old', true],
            ['young', true],
          ],
        );
      } finally {
        await ctx.dispose();
      }
    });

    it('should record the latest explicit expiry and the last retention-bound publish', async () => {
      let now = 10_000;
      const ctx = await tempLog({ now: () => now });
      try {
        await ctx.log.append({ subject: 's', body: body('a'), expirationSeconds: 5 });
        now = 11_000;
        await ctx.log.append({ subject: 's', body: body('b'), expirationSeconds: 0 });
        now = 12_000;
        await ctx.log.append({ subject: 's', body: body('c'), expirationSeconds: 1 });
        const [seg] = await ctx.log.segments('s');
        assert.equal(seg?.maxExplicitExpiryMs, 15_000);
        assert.equal(seg?.lastRetentionPublishMs, 11_000);
        assert.equal(seg?.firstPublishMs, 10_000);
        assert.equal(seg?.lastPublishMs, 12_000);
      } finally {
        await ctx.dispose();
      }
    });
  });
});
