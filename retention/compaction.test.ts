import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvariantError } from '../core/index.js';
import { damageRecord } from '../log/test-support/damage-record.js';
import { tempLog } from '../log/test-support/temp-log.js';
import { Compactor, type CompactionResult } from './index.js';
import { compactionContract } from './test-support/compaction-contract.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const offsets = async (
  log: {
    readRange: (
      s: string,
      f: number,
      l: { maxRecords: number; maxBytes: number },
    ) => Promise<Array<{ offset: number }>>;
  },
  subject: string,
): Promise<number[]> =>
  (await log.readRange(subject, 1, { maxRecords: 10_000, maxBytes: 1 << 30 })).map((r) => r.offset);

describe('Compactor', () => {
  describe('when called directly', () => {
    it('should pass the compaction contract', async () => {
      // The job runner runs the same contract through its queues (jobs/test-support/job-runner-contract.ts).
      await compactionContract(async (compactor, _log, now) => ({
        runCompactionNow: () => compactor.run(now()),
        close: async () => undefined,
      }));
    });
  });

  describe('when given a contradictory policy', () => {
    it('should refuse a partial threshold outside (0, 1] with an InvariantError', () => {
      const store = {} as never;
      const policy = { retentionMs: DAY, localRetentionMs: 0, localRetentionBytes: 0 };
      assert.throws(() => new Compactor(store, { ...policy, partialThreshold: 0 }), {
        name: 'InvariantError',
        message: 'partialThreshold must be in (0, 1], got 0',
      });
      assert.throws(() => new Compactor(store, { ...policy, localRetentionBytes: -1 }), InvariantError);
    });
  });

  describe('when a segment it must read holds a damaged record', () => {
    it('should skip that segment, count it, and still compact the others', async () => {
      let now = 5_000_000;
      const ctx = await tempLog({ segmentMaxRecords: 8, now: () => now });
      try {
        // Two subjects, each with one sealed segment whose odd records expire after 10 s: both worth trimming.
        for (const subject of ['damaged', 'intact']) {
          for (let i = 1; i <= 8; i++)
            await ctx.log.append({ subject, body: Buffer.from('x'), expirationSeconds: i % 2 === 0 ? 0 : 10 });
          await ctx.log.append({ subject, body: Buffer.from('y'), expirationSeconds: 0 });
        }
        await ctx.log.close();
        await damageRecord(ctx.dir, 'damaged', 4);
        const log = await ctx.reopen();
        now += 11_000;
        const policy = { retentionMs: 7 * DAY, localRetentionMs: 0, localRetentionBytes: 0, partialMinRemainingMs: 0 };
        const result = await new Compactor(log, policy).run(now);
        assert.equal(result.segmentsDamaged, 1);
        assert.equal(result.segmentsTrimmed, 1);
        assert.deepEqual(await offsets(log, 'intact'), [2, 4, 6, 8, 9]);
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when a sealed segment is partly expired', () => {
    it('should delete its expired records once at least half have expired, and keep the rest', async () => {
      let now = 5_000_000;
      const ctx = await tempLog({ segmentMaxRecords: 8, now: () => now });
      try {
        // Segment 1..8: offsets 1, 3, 5 expire after 10 s, 7 after 30 s; the even ones follow a 7-day retention.
        for (let i = 1; i <= 8; i++)
          await ctx.log.append({
            subject: 's',
            body: Buffer.from('x'),
            expirationSeconds: i % 2 === 0 ? 0 : i === 7 ? 30 : 10,
          });
        await ctx.log.append({ subject: 's', body: Buffer.from('y'), expirationSeconds: 0 });
        const compactor = new Compactor(ctx.log, { retentionMs: 7 * DAY, localRetentionMs: 0, localRetentionBytes: 0 });
        now += 11_000;
        const early = await compactor.run(now);
        assert.equal(early.recordsDeleted, 0, '3 of 8 expired: not worth a rewrite yet');
        now += 20_000;
        const result = await compactor.run(now);
        assert.equal(result.segmentsTrimmed, 1);
        assert.equal(result.recordsDeleted, 4);
        assert.deepEqual(await offsets(ctx.log, 's'), [2, 4, 6, 8, 9]);
        assert.equal(
          (await ctx.log.subjectInfo('s'))?.firstOffset,
          2,
          'the first offset advances past expired records',
        );
        assert.deepEqual(await ctx.log.get('s', 3), { kind: 'removed', firstOffset: 2 });
        assert.equal((await compactor.run(now + MINUTE)).recordsDeleted, 0, 'nothing more to delete');
      } finally {
        await ctx.dispose();
      }
    });

    it('should leave a segment that expires whole soon to the whole-segment deletion', async () => {
      let now = 5_000_000;
      const ctx = await tempLog({ segmentMaxRecords: 4, now: () => now });
      try {
        for (let i = 0; i < 4; i++)
          await ctx.log.append({ subject: 's', body: Buffer.from('x'), expirationSeconds: i < 3 ? 10 : 120 });
        await ctx.log.append({ subject: 's', body: Buffer.from('y'), expirationSeconds: 0 });
        const compactor = new Compactor(ctx.log, { retentionMs: 7 * DAY, localRetentionMs: 0, localRetentionBytes: 0 });
        now += 11_000;
        assert.equal((await compactor.run(now)).recordsDeleted, 0, 'the whole segment goes in 2 minutes anyway');
        now += 2 * MINUTE;
        const result = await compactor.run(now);
        assert.equal(result.segmentsExpired, 1);
        assert.deepEqual(await offsets(ctx.log, 's'), [5]);
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when a local retention limit is set', () => {
    it('should drop only a prefix of replicated segments beyond the byte limit, never an unreplicated one', async () => {
      let now = 5_000_000;
      const ctx = await tempLog({ segmentMaxRecords: 5, now: () => now });
      try {
        for (let i = 0; i < 21; i++)
          await ctx.log.append({ subject: 's', body: Buffer.alloc(100), expirationSeconds: 0 });
        for (const base of [1, 6, 16]) await ctx.log.markReplicated({ subject: 's', baseOffset: base });
        now += 10 * MINUTE;
        const result = await new Compactor(ctx.log, {
          retentionMs: 7 * DAY,
          localRetentionMs: 0,
          localRetentionBytes: 600,
        }).run(now);
        assert.equal(result.segmentsDroppedLocally, 2);
        assert.deepEqual(
          (await ctx.log.segments('s')).map((s) => s.baseOffset),
          [11, 16, 21],
          'the unreplicated segment 11 stays although over the limit, and so does the replicated 16 behind it (no hole)',
        );
        assert.equal((await ctx.log.subjectInfo('s'))?.firstOffset, 11);
      } finally {
        await ctx.dispose();
      }
    });

    it('should drop replicated segments whose last record is older than the local retention, even though not expired', async () => {
      let now = 5_000_000;
      const ctx = await tempLog({ segmentMaxRecords: 5, now: () => now });
      try {
        for (let i = 0; i < 10; i++)
          await ctx.log.append({ subject: 's', body: Buffer.alloc(10), expirationSeconds: 0 });
        now += 30 * MINUTE;
        for (let i = 0; i < 6; i++)
          await ctx.log.append({ subject: 's', body: Buffer.alloc(10), expirationSeconds: 0 });
        for (const base of [1, 6, 11]) await ctx.log.markReplicated({ subject: 's', baseOffset: base });
        now += 45 * MINUTE;
        const compactor = new Compactor(ctx.log, {
          retentionMs: 7 * DAY,
          localRetentionMs: HOUR,
          localRetentionBytes: 0,
        });
        const result = await compactor.run(now);
        assert.equal(result.segmentsDroppedLocally, 2, 'segments 1 and 6 are 75 minutes old; 11 is 45');
        assert.equal(result.segmentsExpired, 0);
        assert.deepEqual(
          (await ctx.log.segments('s')).map((s) => s.baseOffset),
          [11, 16],
        );
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when it runs', () => {
    it('should report what each pass compacted to its observer', async () => {
      let now = 5_000_000;
      const ctx = await tempLog({ segmentMaxRecords: 5, now: () => now });
      const reports: CompactionResult[] = [];
      try {
        for (let i = 0; i < 6; i++)
          await ctx.log.append({ subject: 's', body: Buffer.alloc(10), expirationSeconds: 1 });
        now += 2000;
        const compactor = new Compactor(
          ctx.log,
          { retentionMs: DAY, localRetentionMs: 0, localRetentionBytes: 0 },
          { compacted: (result) => reports.push(result) },
        );
        const result = await compactor.run(now);
        assert.deepEqual(reports, [result]);
        assert.deepEqual(result, {
          segmentsSealed: 0,
          segmentsExpired: 1,
          segmentsDroppedLocally: 0,
          segmentsTrimmed: 0,
          recordsDeleted: 5,
          bytesDeleted: 50,
          segmentsDamaged: 0,
          idempotencyKeysExpired: 0,
        });
      } finally {
        await ctx.dispose();
      }
    });
  });
});
