import assert from 'node:assert/strict';
import type { Log } from '../../core/index.js';
import { tempLog } from '../../log/test-support/temp-log.js';
import { Compactor } from '../jobs/compaction.js';

const HOUR = 3_600_000;

/** The compaction contract, run against a runner (in process here; on BullMQ in bullmq-runner.redis.test.ts). */
export async function compactionContract(makeRunner: (compactor: Compactor, log: Log, now: () => number) => Promise<{ runCompactionNow(): Promise<unknown>; close(): Promise<void> }>): Promise<void> {
  let now = 1_000_000_000;
  const ctx = await tempLog({ segmentMaxRecords: 10, now: () => now });
  const runner = await makeRunner(new Compactor(ctx.log, { retentionMs: 2 * HOUR, localRetentionMs: 0, localRetentionBytes: 0 }), ctx.log, () => now);
  try {
    // 30 retention-bound records in three segments, then 10 with a 60 s expiration, then 5 more retained records.
    for (let i = 0; i < 30; i++) await ctx.log.append({ subject: 'retained', body: Buffer.from('r'), expirationSeconds: 0 });
    now += HOUR;
    for (let i = 0; i < 10; i++) await ctx.log.append({ subject: 'retained', body: Buffer.from('t'), expirationSeconds: 60 });
    for (let i = 0; i < 5; i++) await ctx.log.append({ subject: 'retained', body: Buffer.from('r'), expirationSeconds: 0 });

    await runner.runCompactionNow();
    assert.equal((await ctx.log.subjectInfo('retained'))?.firstOffset, 1, 'nothing has expired yet');

    now += 2 * 60_000;
    await runner.runCompactionNow();
    const segs = await ctx.log.segments('retained');
    assert.deepEqual(segs.map((s) => s.baseOffset), [1, 11, 21, 41], 'the segment of expired 60 s records is deleted whole');

    now += HOUR;
    await runner.runCompactionNow();
    const info = await ctx.log.subjectInfo('retained');
    assert.equal(info?.firstOffset, 41, 'retention removed the first three segments and the log start advanced');
    assert.deepEqual(await ctx.log.get('retained', 5), { kind: 'removed', firstOffset: 41 });
    assert.equal(await ctx.log.append({ subject: 'retained', body: Buffer.from('r'), expirationSeconds: 0 }), 46, 'ids are never reused');
  } finally {
    await runner.close();
    await ctx.dispose();
  }
}

