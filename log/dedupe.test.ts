import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LogObserver } from '../core/index.js';
import { body, tempLog } from './test-support/temp-log.js';

const msg = (subject: string, text: string, key?: string) => ({
  subject,
  body: body(text),
  expirationSeconds: 0,
  ...(key === undefined ? {} : { key }),
});

describe('LevelDbLog idempotent and atomic appends', () => {
  describe('when an idempotency key is appended again within the window', () => {
    it('should resolve with the first offset and append nothing, also after a reopen', async () => {
      const ctx = await tempLog({ dedupeWindowMs: 60_000 });
      try {
        assert.equal(await ctx.log.append(msg('s', 'a', 'k1')), 1);
        assert.equal(await ctx.log.append(msg('s', 'b', 'k1')), 1);
        assert.equal(await ctx.log.append(msg('t', 'c', 'k1')), 1, 'keys are per subject');
        assert.equal(await ctx.log.append(msg('s', 'd')), 2);
        await ctx.reopen();
        assert.equal(await ctx.log.append(msg('s', 'e', 'k1')), 1);
        assert.equal((await ctx.log.subjectInfo('s'))?.count, 2);
      } finally {
        await ctx.dispose();
      }
    });

    it('should resolve concurrent appends of one key to one record', async () => {
      const ctx = await tempLog({ dedupeWindowMs: 60_000 });
      try {
        const ids = await Promise.all(Array.from({ length: 20 }, (_, i) => ctx.log.append(msg('s', `m${i}`, 'same'))));
        assert.deepEqual(new Set(ids), new Set([1]));
        const batch = await ctx.log.appendBatch([msg('s', 'x', 'b1'), msg('s', 'y', 'b1'), msg('s', 'z', 'same')]);
        assert.deepEqual(batch, [2, 2, 1]);
        assert.equal((await ctx.log.subjectInfo('s'))?.count, 2);
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when the window has passed', () => {
    it('should append anew, and compaction should delete expired keys', async () => {
      let now = 1_000_000;
      const ctx = await tempLog({ dedupeWindowMs: 1000, now: () => now });
      try {
        assert.equal(await ctx.log.append(msg('s', 'a', 'k')), 1);
        await ctx.log.append(msg('s', 'b', 'old'));
        now += 1001;
        assert.equal(await ctx.log.append(msg('s', 'c', 'k')), 3);
        assert.equal(await ctx.log.expireIdempotencyKeys(now), 1, 'only "old" is past its window');
        assert.equal(await ctx.log.append(msg('s', 'd', 'k')), 3);
        await ctx.reopen({ now: () => now });
        assert.equal(await ctx.log.append(msg('s', 'e', 'old')), 4);
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when a batch spans subjects whose states are loading', () => {
    it('should write the whole batch in one LevelDB write', async () => {
      const batches: number[] = [];
      const observer: LogObserver = {
        batchWritten: (records) => batches.push(records),
        appendAcknowledged: () => undefined,
      };
      const ctx = await tempLog({ observer });
      try {
        await ctx.log.append(msg('hot', 'warm'));
        await ctx.reopen({ observer });
        // 'hot' is on disk but not in memory, 'new-…' never existed: both load, at different speeds.
        await ctx.log.append(msg('cached', 'x'));
        batches.length = 0;
        const subjects = ['cached', 'hot', ...Array.from({ length: 8 }, (_, i) => `new-${i}`)];
        const ids = await ctx.log.appendBatch(subjects.map((s) => msg(s, `b-${s}`)));
        assert.deepEqual(ids, [2, 2, 1, 1, 1, 1, 1, 1, 1, 1]);
        assert.deepEqual(batches, [subjects.length], 'one write holding every record');
      } finally {
        await ctx.dispose();
      }
    });
  });
});
