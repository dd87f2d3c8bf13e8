import assert from 'node:assert/strict';
import type { Log } from '../../core/index.js';
import { tempLog } from '../../log/test-support/temp-log.js';
import { Compactor, type CompactionResult } from '../index.js';

const HOUR = 3_600_000;

/** What the contract needs of a runner: its way to run a compaction pass, and to stop. */
export interface CompactionRunner {
  runCompactionNow(): Promise<CompactionResult>;
  close(): Promise<void>;
}

/**
 * The compaction contract, one body for every runner (directly in compaction.test.ts, through the job runner on the
 * memory and BullMQ queues, jobs/test-support/job-runner-contract.ts): whole expired segments go, the first offset advances, removed ids read as 'removed',
 * ids are never reused, and an idle active segment is sealed. A fake clock drives expiry.
 */
export async function compactionContract(
  makeRunner: (compactor: Compactor, log: Log, now: () => number) => Promise<CompactionRunner>,
): Promise<void> {
  let now = 1_000_000_000;
  const ctx = await tempLog({ segmentMaxRecords: 10, segmentMaxAgeMs: HOUR, now: () => now });
  const compactor = new Compactor(ctx.log, { retentionMs: 2 * HOUR, localRetentionMs: 0, localRetentionBytes: 0 });
  const runner = await makeRunner(compactor, ctx.log, () => now);
  try {
    // 30 retention-bound records (segments 1, 11, 21), 10 with a 60 s expiration (31), 5 retained records (41, active).
    for (let i = 0; i < 30; i++)
      await ctx.log.append({ subject: 'retained', body: Buffer.from('r'), expirationSeconds: 0 });
    now += HOUR;
    for (let i = 0; i < 10; i++)
      await ctx.log.append({ subject: 'retained', body: Buffer.from('t'), expirationSeconds: 60 });
    for (let i = 0; i < 5; i++)
      await ctx.log.append({ subject: 'retained', body: Buffer.from('r'), expirationSeconds: 0 });

    const first = await runner.runCompactionNow();
    assert.equal(first.segmentsExpired, 0, 'nothing has expired yet');
    assert.equal((await ctx.log.subjectInfo('retained'))?.firstOffset, 1);

    now += 2 * 60_000;
    const second = await runner.runCompactionNow();
    assert.equal(second.segmentsExpired, 1);
    assert.deepEqual(
      (await ctx.log.segments('retained')).map((s) => s.baseOffset),
      [1, 11, 21, 41],
      'the segment of expired 60 s records is deleted whole',
    );
    assert.deepEqual(
      await ctx.log.get('retained', 35),
      { kind: 'removed', firstOffset: 1 },
      'a compacted id in the middle reads as removed',
    );

    now += HOUR;
    const third = await runner.runCompactionNow();
    assert.equal(third.segmentsExpired, 3);
    assert.equal(third.recordsDeleted, 30);
    assert.equal(third.segmentsSealed, 1, 'the idle active segment 41 is sealed once older than the segment age');
    const info = await ctx.log.subjectInfo('retained');
    assert.equal(info?.firstOffset, 41, 'retention removed the first three segments and the log start advanced');
    assert.deepEqual(await ctx.log.get('retained', 5), { kind: 'removed', firstOffset: 41 });
    assert.equal((await ctx.log.get('retained', 41)).kind, 'record');
    assert.equal(
      await ctx.log.append({ subject: 'retained', body: Buffer.from('r'), expirationSeconds: 0 }),
      46,
      'ids are never reused',
    );
  } finally {
    await runner.close();
    await ctx.dispose();
  }
}
