import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UnsupportedFormatError } from '../core/index.js';
import { INDEX_VALUE, decodeSegment, encodeSegment } from './codec.js';
import { FORMAT_VERSION } from './format-version.js';
import { openLog } from './index.js';
import { Family, formatVersionKey, offsetKey, subjectPrefix } from './keys.js';
import { createDb } from './storage.js';
import { TEST_LOG_DEFAULTS, body, tempLog } from './test-support/temp-log.js';

/** Every key and value in the data dir, as hex: what "untouched" is checked against. */
async function dump(dir: string): Promise<Array<[string, string]>> {
  const db = createDb(dir);
  await db.open();
  try {
    const entries = await db.iterator().all();
    return entries.map(([key, value]) => [key.toString('hex'), value.toString('hex')]);
  } finally {
    await db.close();
  }
}

/** Writes `value` (or deletes it when undefined) at the format version key, with the log closed. */
async function setMarker(dir: string, value: Buffer | undefined): Promise<void> {
  const db = createDb(dir);
  await db.open();
  if (value === undefined) await db.del(formatVersionKey());
  else await db.put(formatVersionKey(), value);
  await db.close();
}

describe('LevelDbLog storage format version', () => {
  describe('when a data dir has no marker', () => {
    it('should record version 2 when it creates the data dir', async () => {
      const ctx = await tempLog();
      await ctx.log.close();
      const marker = (await dump(ctx.dir)).find(([key]) => key === formatVersionKey().toString('hex'));
      assert.deepEqual(marker, [formatVersionKey().toString('hex'), '00000002']);
      assert.equal(FORMAT_VERSION, 2);
      await ctx.dispose();
    });

    it('should open a data dir written before the marker existed as version 1 and upgrade it to 2', async () => {
      const ctx = await tempLog();
      for (let i = 1; i <= 3; i++) await ctx.log.append({ subject: 's', body: body(`m${i}`), expirationSeconds: 0 });
      await ctx.log.close();
      await setMarker(ctx.dir, undefined);
      const log = await ctx.reopen();
      assert.equal((await log.subjectInfo('s'))?.lastOffset, 3);
      assert.equal(await log.append({ subject: 's', body: body('m4'), expirationSeconds: 0 }), 4);
      await log.close();
      assert.ok(
        (await dump(ctx.dir)).some(([key, value]) => key === '00666f726d61742d76657273696f6e' && value === '00000002'),
      );
      await ctx.dispose();
    });
  });

  describe('when the marker says version 1', () => {
    it('should upgrade the data dir to version 2 by writing the marker alone, every other key and value untouched', async () => {
      const ctx = await tempLog({ segmentMaxRecords: 2 });
      for (let i = 1; i <= 3; i++) await ctx.log.append({ subject: 's', body: body(`m${i}`), expirationSeconds: 0 });
      await ctx.log.close();
      await setMarker(ctx.dir, Buffer.from('00000001', 'hex'));
      const marker = formatVersionKey().toString('hex');
      const before = (await dump(ctx.dir)).filter(([key]) => key !== marker);

      const log = await ctx.reopen();
      assert.equal((await log.subjectInfo('s'))?.lastOffset, 3);
      await log.close();
      const after = await dump(ctx.dir);
      assert.deepEqual(
        after.find(([key]) => key === marker),
        [marker, '00000002'],
      );
      assert.deepEqual(
        after.filter(([key]) => key !== marker),
        before,
      );
      await ctx.dispose();
    });
  });

  describe('when the marker names a version this build does not know', () => {
    for (const [name, marker, found] of [
      ['a later version', Buffer.from('00000003', 'hex'), '3'],
      ['a value of another width', Buffer.from('0102', 'hex'), '0x0102'],
    ] as const) {
      it(`should refuse to open (${name}) with UnsupportedFormatError and leave the data untouched`, async () => {
        const ctx = await tempLog({ segmentMaxRecords: 2 });
        for (let i = 0; i < 5; i++) await ctx.log.append({ subject: 's', body: body(`m${i}`), expirationSeconds: 0 });
        await ctx.log.close();
        // A deletion left half done: an open that went ahead would finish it, and the data would change.
        const db = createDb(ctx.dir);
        await db.open();
        const segmentKey = offsetKey(subjectPrefix(Family.segment, 's'), 1);
        const stored = await db.get(segmentKey);
        assert.ok(stored !== undefined);
        await db.batch([
          { type: 'put', key: segmentKey, value: encodeSegment({ ...decodeSegment(stored), deleting: true }) },
          { type: 'put', key: offsetKey(subjectPrefix(Family.deleting, 's'), 1), value: INDEX_VALUE },
          { type: 'put', key: formatVersionKey(), value: marker },
        ]);
        await db.close();
        const before = await dump(ctx.dir);

        await assert.rejects(openLog({ ...TEST_LOG_DEFAULTS, dataDir: ctx.dir }), (err: unknown) => {
          assert.ok(err instanceof UnsupportedFormatError);
          assert.equal(err.reason, 'UNSUPPORTED_FORMAT');
          assert.deepEqual([err.found, err.supported], [found, '1 or 2']);
          assert.equal(
            err.message,
            `${ctx.dir} is in storage format version ${found}; this broker reads version 1 or 2`,
          );
          return true;
        });
        // The refused open closed the database (its lock is free) and wrote nothing.
        assert.deepEqual(await dump(ctx.dir), before);

        await setMarker(ctx.dir, undefined);
        const log = await ctx.reopen();
        assert.equal((await log.subjectInfo('s'))?.firstOffset, 3);
        await ctx.dispose();
      });
    }
  });
});
