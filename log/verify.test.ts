import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RECORD_HEADER_BYTES } from './codec.js';
import { Family, offsetKey, subjectPrefix } from './keys.js';
import { createDb } from './storage.js';
import { tempLog } from './test-support/temp-log.js';
import { verifyDataDir } from './verify.js';

describe('verifyDataDir', () => {
  describe('when the data dir is intact', () => {
    it('should report no problem and count every record', async () => {
      const ctx = await tempLog({ segmentMaxRecords: 4 });
      try {
        for (let i = 1; i <= 10; i++)
          await ctx.log.append({ subject: 's', body: Buffer.from(`b${i}`), expirationSeconds: 0 });
        await ctx.log.close();
        const report = await verifyDataDir(ctx.dir);
        assert.deepEqual(report.problems, []);
        assert.equal(report.records, 10);
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when a stored record no longer matches its checksum', () => {
    it('should name the damaged id, and leave the data dir as it was', async () => {
      const ctx = await tempLog({ segmentMaxRecords: 4 });
      try {
        for (let i = 1; i <= 10; i++)
          await ctx.log.append({ subject: 's', body: Buffer.from(`b${i}`), expirationSeconds: 0 });
        await ctx.log.close();
        const db = createDb(ctx.dir);
        await db.open();
        const key = offsetKey(subjectPrefix(Family.record, 's'), 6);
        const value = Buffer.from((await db.get(key)) ?? Buffer.alloc(0));
        value[RECORD_HEADER_BYTES] = (value[RECORD_HEADER_BYTES] ?? 0) ^ 0x01;
        await db.put(key, value);
        await db.close();

        const report = await verifyDataDir(ctx.dir);
        assert.equal(report.problems.length, 1, report.problems.join('\n'));
        assert.match(report.problems[0] ?? '', /1 records fail their checksum \(ids 6\)/);
        // verify works on a scratch copy: the damaged value is still there, unchanged, for the operator to look at.
        const again = createDb(ctx.dir);
        await again.open();
        assert.deepEqual(await again.get(key), value);
        await again.close();
      } finally {
        await ctx.dispose();
      }
    });
  });
});
