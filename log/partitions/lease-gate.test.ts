import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NotOwnerError } from '../../core/index.js';
import { message, tempPartitioned } from '../test-support/temp-partitioned.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('PartitionedLog leaseGate (a cluster member paused past its lease)', () => {
  it('should write nothing of appends admitted under the lease once it has ended, and answer them NOT_OWNER', async () => {
    // One flag for both gates: the lease as the member reckons it. Admitted while it holds, the append waits for its
    // batch (the next event-loop turn); the lease ending in between is what a pause there looks like when it wakes.
    let held = true;
    const ctx = await tempPartitioned({
      partitions: 2,
      appendGate: () => held,
      leaseGate: () => held,
      ownerName: () => 'm2',
      writeRetry: { firstMs: 20, maxMs: 40 },
    });
    try {
      assert.equal(await ctx.log.append(message('s', 'under the lease')), 1);
      const admitted = ctx.log.append(message('s', 'admitted, then the lease ended'));
      held = false;
      await assert.rejects(admitted, NotOwnerError);
      held = true;
      // The log recovers as after a failed write (its states counted the refused append), then appends again.
      let next: number | undefined;
      for (let i = 0; next === undefined && i < 100; i++) {
        next = await ctx.log.append(message('s', 'the lease held again')).catch(() => undefined);
        if (next === undefined) await sleep(20);
      }
      const stored = await ctx.log.readRange('s', 1, { maxRecords: 10, maxBytes: 1 << 20 });
      assert.deepEqual(
        stored.map((r) => `${r.offset} ${Buffer.from(r.body).toString()}`),
        ['1 under the lease', `${next} the lease held again`],
      );
    } finally {
      await ctx.dispose();
    }
  });
});
