import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { tempLog } from '../../log/test-support/temp-log.js';
import { Compactor } from './compaction.js';
import { InProcessRunner } from './in-process-runner.js';
import { compactionContract } from '../test-support/compaction-contract.js';
import { JobMetrics } from './job-metrics.js';

const HOUR = 3_600_000;
const silent = pino({ level: 'silent' });

describe('Compactor', () => {
  describe('when run by the in-process runner', () => {
    it('should delete expired segments, advance the log start and never reuse ids', async () => {
      await compactionContract(async (compactor, log, now) => new InProcessRunner({ log, compactor, intervalMs: 3_600_000, metrics: new JobMetrics(), logger: silent, now }));
    });
  });

  describe('when a sealed segment is partly expired', () => {
    it('should delete its expired records and keep the rest', async () => {
      let now = 5_000_000;
      const ctx = await tempLog({ segmentMaxRecords: 6, now: () => now });
      try {
        for (let i = 0; i < 6; i++) await ctx.log.append({ subject: 's', body: Buffer.from('x'), expirationSeconds: i % 2 === 0 ? 10 : 0 });
        await ctx.log.append({ subject: 's', body: Buffer.from('y'), expirationSeconds: 0 });
        now += 11_000;
        const result = await new Compactor(ctx.log, { retentionMs: HOUR, localRetentionMs: 0, localRetentionBytes: 0 }).run(now);
        assert.equal(result.recordsDeleted, 3);
        const left = await ctx.log.readRange('s', 1, { maxRecords: 100, maxBytes: 1 << 20 });
        assert.deepEqual(left.map((r) => r.offset), [2, 4, 6, 7]);
        assert.equal((await ctx.log.subjectInfo('s'))?.firstOffset, 2);
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when a local retention limit is set', () => {
    it('should drop only replicated segments beyond the limit', async () => {
      let now = 5_000_000;
      const ctx = await tempLog({ segmentMaxRecords: 5, now: () => now });
      try {
        for (let i = 0; i < 20; i++) await ctx.log.append({ subject: 's', body: Buffer.alloc(100), expirationSeconds: 0 });
        await ctx.log.markReplicated('s', 1);
        await ctx.log.markReplicated('s', 6);
        now += 10 * 60_000;
        const result = await new Compactor(ctx.log, { retentionMs: 7 * 24 * HOUR, localRetentionMs: 0, localRetentionBytes: 600 }).run(now);
        assert.equal(result.segmentsDroppedLocally, 2);
        assert.deepEqual((await ctx.log.segments('s')).map((s) => s.baseOffset), [11, 16], 'the unreplicated segment 11 stays although over the limit');
        const byAge = await new Compactor(ctx.log, { retentionMs: 7 * 24 * HOUR, localRetentionMs: 60_000, localRetentionBytes: 0 }).run(now);
        assert.equal(byAge.segmentsDroppedLocally, 0, 'nothing replicated is left to drop');
      } finally {
        await ctx.dispose();
      }
    });
  });
});
