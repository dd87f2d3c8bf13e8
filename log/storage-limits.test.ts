// Issue 11: the storage limits of the log. A 20 MiB volume filled in 2 s because nothing bounded what the log
// stored; these check that a per-subject and a total limit hold with both discard policies, and that the free-space
// floor refuses before the file system is full. Real LevelDB in temp dirs; the free space is injected only in the
// floor's unit test (the e2e test uses a real tmpfs).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StorageFullError, type Log } from '../core/index.js';
import { StorageLimits, type StorageLimitOptions } from './storage-limits.js';
import { SubjectState } from './subject-state.js';
import { tempLog } from './test-support/temp-log.js';

const KiB = 1024;

function publish(log: Log, subject: string, n: number, size = KiB): Promise<number[]> {
  return Promise.all(
    Array.from({ length: n }, () => log.append({ subject, body: Buffer.alloc(size, 0x61), expirationSeconds: 0 })),
  );
}

async function storedBytes(log: Log, subject: string): Promise<number> {
  return (await log.subjectInfo(subject))?.bytes ?? 0;
}

async function until(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, 'timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const limits = (more: Partial<StorageLimitOptions>): StorageLimitOptions => ({
  maxSubjectBytes: 0,
  maxTotalBytes: 0,
  discard: 'refuse',
  minFreeBytes: 0,
  ...more,
});

describe('storage limits', () => {
  describe("when BROKER_DISCARD is 'refuse'", () => {
    it('should refuse the append that would pass BROKER_MAX_SUBJECT_BYTES with STORAGE_FULL, appending nothing', async () => {
      const ctx = await tempLog({ limits: limits({ maxSubjectBytes: 10 * KiB }) });
      try {
        await publish(ctx.log, 'a', 10);
        await assert.rejects(publish(ctx.log, 'a', 1), (err: unknown) => {
          assert.ok(err instanceof StorageFullError);
          assert.equal(err.reason, 'STORAGE_FULL');
          assert.equal(err.limit, 'BROKER_MAX_SUBJECT_BYTES');
          assert.match(err.message, /subject "a" stores 10240 bytes .*BROKER_MAX_SUBJECT_BYTES = 10240/);
          return true;
        });
        // A batch that would pass it is refused as a whole.
        await assert.rejects(
          ctx.log.appendMany([{ subject: 'b', body: Buffer.alloc(11 * KiB), expirationSeconds: 0 }]),
          StorageFullError,
        );
        assert.equal((await ctx.log.subjectInfo('a'))?.lastOffset, 10, 'nothing appended');
        assert.equal(await ctx.log.subjectInfo('b'), undefined);
        assert.deepEqual(await publish(ctx.log, 'c', 1), [1], 'other subjects have their own limit');
        // So is an atomic batch across subjects: one part over its limit refuses every part.
        await assert.rejects(
          ctx.log.appendBatch([
            { subject: 'd', body: Buffer.alloc(KiB), expirationSeconds: 0 },
            { subject: 'a', body: Buffer.alloc(KiB), expirationSeconds: 0 },
          ]),
          StorageFullError,
        );
        await new Promise((r) => setTimeout(r, 50)); // any part that was put in the group commit is written by now
        assert.equal(await ctx.log.subjectInfo('d'), undefined, 'no part of a refused batch is appended');
      } finally {
        await ctx.dispose();
      }
    });

    it('should refuse at BROKER_MAX_TOTAL_BYTES, counted over all subjects and again after reopening', async () => {
      const ctx = await tempLog({ limits: limits({ maxTotalBytes: 8 * KiB }), segmentMaxRecords: 2 });
      try {
        await publish(ctx.log, 'a', 4);
        await publish(ctx.log, 'b', 4);
        await assert.rejects(publish(ctx.log, 'c', 1), /BROKER_MAX_TOTAL_BYTES = 8192/);
        const log = await ctx.reopen();
        await assert.rejects(
          publish(log, 'c', 1),
          StorageFullError,
          'the total is counted from segment metadata at open',
        );
        // Deleting (as compaction does) frees room.
        await log.sealStaleSegments(Date.now() + 7_200_000);
        await log.deleteSegment({ subject: 'a', baseOffset: 1 });
        assert.deepEqual(await publish(log, 'c', 2), [1, 2]);
        await assert.rejects(publish(log, 'c', 1), StorageFullError);
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe("when BROKER_DISCARD is 'oldest'", () => {
    it("should drop the subject's oldest sealed segments to stay within BROKER_MAX_SUBJECT_BYTES", async () => {
      const ctx = await tempLog({
        limits: limits({ maxSubjectBytes: 8 * KiB, discard: 'oldest' }),
        segmentMaxRecords: 2,
      });
      try {
        for (let i = 0; i < 20; i++) await publish(ctx.log, 'a', 1);
        await until(async () => (await storedBytes(ctx.log, 'a')) <= 8 * KiB);
        const info = await ctx.log.subjectInfo('a');
        assert.equal(info?.lastOffset, 20, 'every append was accepted');
        assert.ok((info?.firstOffset ?? 0) > 1, 'the oldest records were dropped');
        assert.equal((await ctx.log.get('a', 1)).kind, 'removed');
        assert.equal((await ctx.log.get('a', 20)).kind, 'record');
      } finally {
        await ctx.dispose();
      }
    });

    it('should drop only the publishing subject, at BROKER_MAX_TOTAL_BYTES, and refuse when nothing sealed is left', async () => {
      const ctx = await tempLog({
        limits: limits({ maxTotalBytes: 8 * KiB, discard: 'oldest' }),
        segmentMaxRecords: 2,
      });
      try {
        await publish(ctx.log, 'a', 4);
        for (let i = 0; i < 8; i++) await publish(ctx.log, 'b', 1);
        await until(async () => (await storedBytes(ctx.log, 'a')) + (await storedBytes(ctx.log, 'b')) <= 8 * KiB);
        assert.equal(await storedBytes(ctx.log, 'a'), 4 * KiB, 'another subject keeps its data');
        // A subject with only an active segment has nothing sealed to drop: refused, naming why.
        await assert.rejects(publish(ctx.log, 'c', 1, 3 * KiB), /no sealed segment of "c" is left to drop/);
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when the free space falls below BROKER_MIN_FREE_BYTES', () => {
    it('should refuse appends from the last statfs figure minus what was appended since, and accept once space is back', async () => {
      let free = 100 * KiB;
      let stats = 0;
      const guard = new StorageLimits(
        limits({ minFreeBytes: 64 * KiB }),
        '/unused',
        () => Promise.resolve(0),
        undefined,
        () => {
          stats += 1;
          return Promise.resolve(free);
        },
      );
      const state = new SubjectState('s', 0, 1, []);
      try {
        await guard.start({ values: () => [] } as never);
        assert.equal(guard.admit(state, 30 * KiB), undefined);
        free = 70 * KiB; // the disk, as the next statfs will see it
        const refused = guard.admit(state, 10 * KiB);
        assert.ok(refused instanceof StorageFullError, 'refused before any statfs: 100 - 30 - 10 KiB < 64 KiB');
        assert.equal(refused.limit, 'BROKER_MIN_FREE_BYTES');
        const before = stats;
        for (let i = 0; i < 1000; i++) guard.admit(state, 0);
        assert.ok(stats - before <= 2, `statfs is not read per append: ${stats - before} reads for 1000 appends`);
        free = 1024 * KiB;
        await until(async () => guard.admit(state, KiB) === undefined);
      } finally {
        guard.close();
      }
    });
  });
});
