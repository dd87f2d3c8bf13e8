import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NotOwnerError, partitionOf } from '../../core/index.js';
import { message, subjectsCovering, tempPartitioned } from '../test-support/temp-partitioned.js';

const P = 4;

describe('PartitionedLog ownership that changes while open (a cluster member)', () => {
  it('should serve a partition from acquire, refuse it after release, and keep its records for the next owner', async () => {
    const ctx = await tempPartitioned({ partitions: P, owned: [0] });
    try {
      const [s1] = subjectsCovering(P, 1, (s) => partitionOf(s, P)).filter((s) => partitionOf(s, P) === 1);
      const subject = s1 as string;
      await assert.rejects(ctx.log.append(message(subject, 'early')), NotOwnerError);
      await ctx.log.acquire(1);
      assert.deepEqual(ctx.log.owned, [0, 1]);
      assert.equal(await ctx.log.append(message(subject, 'one')), 1);
      const inFlight = ctx.log.append(message(subject, 'two'));
      await ctx.log.release(1);
      // Accepted before the release, so written; everything after is refused.
      assert.equal(await inFlight, 2);
      await assert.rejects(ctx.log.append(message(subject, 'late')), NotOwnerError);
      await assert.rejects(ctx.log.get(subject, 1), NotOwnerError);
      await ctx.log.acquire(1);
      assert.equal(await ctx.log.append(message(subject, 'three')), 3);
      const first = await ctx.log.get(subject, 1);
      assert.equal(first.kind === 'record' ? Buffer.from(first.record.body).toString() : first.kind, 'one');
    } finally {
      await ctx.log.close();
    }
  });

  it('should refuse appends, not reads, while the append gate (the lease) says no', async () => {
    let leaseValid = true;
    const ctx = await tempPartitioned({ partitions: P, appendGate: () => leaseValid });
    try {
      const subject = 'gated';
      assert.equal(await ctx.log.append(message(subject, 'one')), 1);
      leaseValid = false;
      await assert.rejects(ctx.log.append(message(subject, 'two')), NotOwnerError);
      await assert.rejects(ctx.log.appendBatch([message(subject, 'two')]), NotOwnerError);
      assert.equal((await ctx.log.subjectInfo(subject))?.lastOffset, 1);
      leaseValid = true;
      assert.equal(await ctx.log.append(message(subject, 'two')), 2);
    } finally {
      await ctx.log.close();
    }
  });
});
