import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { DataLossError, type Log, type LogObserver, type LogRecord } from '../core/index.js';
import { RECORD_HEADER_BYTES } from './codec.js';
import { Family, offsetKey, subjectPrefix } from './keys.js';
import { createDb } from './storage.js';
import { compactIntoTables, flipByteInTables } from './test-support/damaged-table.js';
import { body, tempLog } from './test-support/temp-log.js';

/** An observer that keeps the checksum mismatches it hears of. */
function recordingObserver(): LogObserver & { mismatches: Array<[string, number]> } {
  const mismatches: Array<[string, number]> = [];
  return {
    mismatches,
    batchWritten: () => undefined,
    appendAcknowledged: () => undefined,
    checksumMismatch: (subject, offset) => mismatches.push([subject, offset]),
  };
}

function recordKey(subject: string, offset: number): Buffer {
  return offsetKey(subjectPrefix(Family.record, subject), offset);
}

/** Rewrites stored record values of a closed data dir through LevelDB (`change` gets each value and returns the new one). */
async function rewrite(dir: string, changes: Array<[Buffer, (value: Buffer) => Buffer]>): Promise<void> {
  const db = createDb(dir);
  await db.open();
  try {
    for (const [key, change] of changes) {
      const value = await db.get(key);
      assert.ok(value !== undefined, `a record at ${key.toString('hex')}`);
      await db.put(key, change(Buffer.from(value)));
    }
  } finally {
    await db.close();
  }
}

/** The value with one body byte flipped; its tag and checksum stay as they were written. */
function flipBodyByte(value: Buffer): Buffer {
  value[RECORD_HEADER_BYTES] = (value[RECORD_HEADER_BYTES] ?? 0) ^ 0x01;
  return value;
}

/** Asserts a read fails with DataLossError naming the subject and id (reason DATA_LOSS). */
async function assertDataLoss(read: Promise<unknown>, subject: string, id: number): Promise<void> {
  await assert.rejects(read, (err: unknown) => {
    assert.ok(err instanceof DataLossError, `DataLossError, got ${String(err)}`);
    assert.deepEqual([err.reason, err.subject, err.id], ['DATA_LOSS', subject, id]);
    assert.match(err.message, /failed its checksum/);
    return true;
  });
}

function bodies(records: readonly LogRecord[]): string[] {
  return records.map((r) => Buffer.from(r.body).toString());
}

async function drain(iterable: AsyncIterable<LogRecord[]>, into: LogRecord[]): Promise<void> {
  for await (const batch of iterable) into.push(...batch);
}

describe('LevelDbLog record checksums', () => {
  describe('when a stored record was changed in LevelDB (one body byte flipped, its old checksum kept)', () => {
    /** A log whose subject 's' has m1..m5 stored, with m3 damaged on disk, reopened (nothing cached). */
    async function damagedLog() {
      const observer = recordingObserver();
      const ctx = await tempLog({ observer });
      for (let i = 1; i <= 5; i++) await ctx.log.append({ subject: 's', body: body(`m${i}`), expirationSeconds: 0 });
      await ctx.log.close();
      await rewrite(ctx.dir, [[recordKey('s', 3), flipBodyByte]]);
      const log = await ctx.reopen();
      return { ctx, log, observer };
    }

    it('should fail get with DataLossError, tell the observer, and still serve the records around it', async () => {
      const { ctx, log, observer } = await damagedLog();
      await assertDataLoss(log.get('s', 3), 's', 3);
      assert.deepEqual(observer.mismatches, [['s', 3]]);
      for (const id of [2, 4]) {
        const found = await log.get('s', id);
        assert.equal(found.kind === 'record' && Buffer.from(found.record.body).toString(), `m${id}`);
      }
      assert.deepEqual(observer.mismatches, [['s', 3]]);
      await ctx.dispose();
    });

    it('should end readRange before the damaged record, then fail the read that starts at it', async () => {
      const { ctx, log, observer } = await damagedLog();
      const limits = { maxRecords: 100, maxBytes: 1 << 20 };
      assert.deepEqual(bodies(await log.readRange('s', 1, limits)), ['m1', 'm2']);
      assert.deepEqual(observer.mismatches, []);
      await assertDataLoss(log.readRange('s', 3, limits), 's', 3);
      assert.deepEqual(bodies(await log.readRange('s', 4, limits)), ['m4', 'm5']);
      assert.deepEqual(observer.mismatches, [['s', 3]]);
      await ctx.dispose();
    });

    it('should yield readSegment batches up to the damaged record, then throw DataLossError', async () => {
      const { ctx, log, observer } = await damagedLog();
      const read: LogRecord[] = [];
      await assertDataLoss(drain(log.readSegment({ subject: 's', baseOffset: 1 }), read), 's', 3);
      assert.deepEqual(bodies(read), ['m1', 'm2']);
      assert.deepEqual(observer.mismatches, [['s', 3]]);
      await ctx.dispose();
    });

    it("should deliver a lagging cursor's records up to the damaged one, then reject its next() with DataLossError", async () => {
      const { ctx, log, observer } = await damagedLog();
      const cursor = await log.tail('s', 1);
      assert.deepEqual(bodies(await cursor.next()), ['m1', 'm2']);
      await assertDataLoss(cursor.next(), 's', 3);
      assert.deepEqual(observer.mismatches, [['s', 3]]);
      cursor.close();
      await ctx.dispose();
    });
  });

  describe('when a stored record was moved under another key', () => {
    it('should fail the read at that key (the checksum covers subject and offset)', async () => {
      const observer = recordingObserver();
      const ctx = await tempLog({ observer });
      for (const subject of ['a', 'b'])
        for (let i = 1; i <= 3; i++)
          await ctx.log.append({ subject, body: body(`${subject}${i}`), expirationSeconds: 0 });
      await ctx.log.close();
      const db = createDb(ctx.dir);
      await db.open();
      const [a2, b3] = await db.getMany([recordKey('a', 2), recordKey('b', 3)]);
      assert.ok(a2 !== undefined && b3 !== undefined);
      await db.put(recordKey('a', 3), a2);
      await db.put(recordKey('a', 1), b3);
      await db.close();

      const log = await ctx.reopen();
      await assertDataLoss(log.get('a', 3), 'a', 3);
      await assertDataLoss(log.get('a', 1), 'a', 1);
      assert.deepEqual(observer.mismatches, [
        ['a', 3],
        ['a', 1],
      ]);
      await ctx.dispose();
    });
  });

  describe('when the observer throws', () => {
    it('should still fail the read with DataLossError (the observer is reported as a warning)', async () => {
      const observer: LogObserver = {
        batchWritten: () => undefined,
        appendAcknowledged: () => undefined,
        checksumMismatch: () => {
          throw new Error('observer failed');
        },
      };
      const ctx = await tempLog({ observer });
      await ctx.log.append({ subject: 's', body: body('m1'), expirationSeconds: 0 });
      await ctx.log.close();
      await rewrite(ctx.dir, [[recordKey('s', 1), flipBodyByte]]);
      const log = await ctx.reopen();
      const warnings: Error[] = [];
      const onWarning = (w: Error): number => warnings.push(w);
      process.on('warning', onWarning);
      try {
        await assertDataLoss(log.get('s', 1), 's', 1);
        await new Promise((resolve) => setImmediate(resolve));
        assert.deepEqual(
          warnings.map((w) => w.message),
          ['observer failed'],
        );
      } finally {
        process.off('warning', onWarning);
        await ctx.dispose();
      }
    });
  });

  describe('when a byte inside a record is flipped in a LevelDB table file on disk', () => {
    it('should answer DataLossError for that record, never a wrong body, and serve the others', async () => {
      const observer = recordingObserver();
      const ctx = await tempLog({ observer });
      // Random bodies: incompressible, so LevelDB stores them as they are and the flipped byte is a body byte.
      const written = Array.from({ length: 200 }, () => randomBytes(1024));
      for (const b of written) await ctx.log.append({ subject: 'disk', body: b, expirationSeconds: 0 });
      await ctx.log.close();
      await compactIntoTables(ctx.dir);
      const damaged = 137;
      const { file } = await flipByteInTables(ctx.dir, written[damaged - 1] ?? Buffer.alloc(0));
      assert.match(file, /\.ldb$/);

      const log: Log = await ctx.reopen();
      await assertDataLoss(log.get('disk', damaged), 'disk', damaged);
      const before = await log.readRange('disk', 1, { maxRecords: 1000, maxBytes: 1 << 30 });
      assert.equal(before.length, damaged - 1);
      before.forEach((r, i) => assert.deepEqual(Buffer.from(r.body), written[i], `id ${r.offset}`));
      await assertDataLoss(log.readRange('disk', damaged, { maxRecords: 10, maxBytes: 1 << 30 }), 'disk', damaged);
      const after = await log.get('disk', damaged + 1);
      assert.ok(after.kind === 'record');
      assert.deepEqual(Buffer.from(after.record.body), written[damaged]);
      assert.deepEqual(observer.mismatches, [
        ['disk', damaged],
        ['disk', damaged],
      ]);
      await ctx.dispose();
    });
  });
});
