import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Log } from '../core/index.js';
import { HIGH_WATER_FILE, encodeFrame } from './high-water.js';
import { tempLog } from './test-support/temp-log.js';

const body = (i: number): Buffer => Buffer.from(`body ${i}`);

async function appendN(log: Log, subject: string, n: number): Promise<number[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => log.append({ subject, body: body(i), expirationSeconds: 0 })));
}

describe('the recovery pass at open', () => {
  describe("when the side file's mark is above LevelDB's head (a torn WAL lost the last batches)", () => {
    it('should answer lost for the ids between, raise the head above them, and record them once', async () => {
      const ctx = await tempLog();
      const lostEvents: Array<[string, number, number]> = [];
      try {
        await appendN(ctx.log, 'orders', 10);
        await ctx.log.close();
        // What a torn WAL leaves: the side file knows of ids 11..15 that LevelDB no longer has.
        const path = join(ctx.dir, HIGH_WATER_FILE);
        await writeFile(path, Buffer.concat([await readFile(path), encodeFrame([['orders', 15]])]));
        const observer = {
          batchWritten: () => undefined,
          appendAcknowledged: () => undefined,
          dataLost: (s: string, from: number, to: number) => lostEvents.push([s, from, to]),
        };
        const log = await ctx.reopen({ observer });
        assert.deepEqual(lostEvents, [['orders', 11, 15]]);
        assert.equal((await log.get('orders', 10)).kind, 'record');
        for (const id of [11, 13, 15]) assert.equal((await log.get('orders', id)).kind, 'lost');
        assert.equal((await log.get('orders', 16)).kind, 'never');
        assert.equal(await log.append({ subject: 'orders', body: body(16), expirationSeconds: 0 }), 16);
        const range = await log.readRange('orders', 9, { maxRecords: 10, maxBytes: 1 << 20 });
        assert.deepEqual(
          range.map((r) => r.offset),
          [9, 10, 16],
        );
        await ctx.reopen({ observer });
        assert.equal(lostEvents.length, 1, 'a recorded loss is reported once');
        assert.equal((await ctx.log.get('orders', 12)).kind, 'lost');
      } finally {
        await ctx.dispose();
      }
    });

    it('should recreate a subject that LevelDB lost entirely, with every id lost', async () => {
      const ctx = await tempLog();
      try {
        await appendN(ctx.log, 'kept', 1);
        await ctx.log.close();
        const path = join(ctx.dir, HIGH_WATER_FILE);
        await writeFile(path, Buffer.concat([await readFile(path), encodeFrame([['gone', 4]])]));
        const log = await ctx.reopen();
        assert.equal((await log.get('gone', 1)).kind, 'lost');
        assert.equal((await log.subjectInfo('gone'))?.lastOffset, 4);
        assert.equal(await log.append({ subject: 'gone', body: body(5), expirationSeconds: 0 }), 5);
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when a clean log is reopened', () => {
    it('should find nothing lost and continue after the head', async () => {
      const ctx = await tempLog({ fsync: 'batch' });
      try {
        await appendN(ctx.log, 'orders', 5);
        const log = await ctx.reopen();
        for (let id = 1; id <= 5; id++) assert.equal((await log.get('orders', id)).kind, 'record');
        assert.equal(await log.append({ subject: 'orders', body: body(6), expirationSeconds: 0 }), 6);
      } finally {
        await ctx.dispose();
      }
    });
  });
});
