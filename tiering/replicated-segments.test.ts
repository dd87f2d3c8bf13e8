// A segment written entirely by replicated commits (BROKER_ACKS=replicated) is in the cold tier record by record
// already: sealing it must not owe a copy (the hand-over's flush), while any segment with a record that may have
// missed the cold tier (begun before a restart, under acks=local, or in a commit the cold tier refused) still does.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Log } from '../core/index.js';
import { tempLog } from '../log/test-support/temp-log.js';
import { Replicator } from './replicator.js';
import { MemoryColdStore } from './test-support/memory-cold-store.js';
import { publish, replicatedLog } from './test-support/replicated-acks-scenario.js';

/** Seals every active segment (as a hand-over does), then copies what is owed; resolves with the refs copied. */
async function sealAndFlush(log: Log, cold: MemoryColdStore): Promise<string[]> {
  await log.sealStaleSegments(Number.MAX_SAFE_INTEGER);
  const replicator = new Replicator(log, cold, 3_600_000, undefined, null);
  const copied: string[] = [];
  for await (const ref of replicator.owed())
    if ((await replicator.replicate(ref)) !== 'skipped') copied.push(`${ref.subject}@${ref.baseOffset}`);
  return copied;
}

const append = (log: Log, i: number): Promise<number> =>
  log.append({ subject: 's', body: Buffer.from(`s-${i}`), expirationSeconds: 0 });

describe('segments sealed under BROKER_ACKS=replicated', () => {
  it('should owe no copy for a segment only replicated commits wrote, and still serve every id from the cold tier', async () => {
    const cold = new MemoryColdStore();
    const ctx = await replicatedLog(cold);
    try {
      await publish(ctx.log, ['s'], 25); // segments of 10: two sealed by rolls, one active
      assert.deepEqual(await sealAndFlush(ctx.log, cold), [], 'nothing re-copied');
      assert.equal(cold.writes.size, 0);
      const segments = await ctx.log.segments('s');
      assert.equal(segments.length, 3);
      assert.ok(segments.every((s) => s.sealed && s.replicated));
      for (let id = 1; id <= 25; id++) assert.ok((await cold.get('s', id)) !== undefined, `id ${id}`);
    } finally {
      await ctx.dispose();
    }
  });

  it('should copy a segment that was active across a restart (its earlier commits are not vouched for)', async () => {
    const cold = new MemoryColdStore();
    const ctx = await replicatedLog(cold);
    try {
      await publish(ctx.log, ['s'], 4);
      const log = await ctx.reopen();
      await append(log, 5);
      assert.deepEqual(await sealAndFlush(log, cold), ['s@1']);
    } finally {
      await ctx.dispose();
    }
  });

  it('should copy a segment begun under acks=local and continued under replicated', async () => {
    const cold = new MemoryColdStore();
    const ctx = await tempLog({ segmentMaxRecords: 10 });
    try {
      await publish(ctx.log, ['s'], 3);
      // The same data dir restarted with acks=replicated.
      const replicated = await ctx.reopen({ replica: { store: cold, retentionMs: 3_600_000 } });
      await append(replicated, 4);
      assert.deepEqual(await sealAndFlush(replicated, cold), ['s@1']);
    } finally {
      await ctx.dispose();
    }
  });

  it('should copy a segment one of whose commits the cold tier refused', async () => {
    const cold = new MemoryColdStore();
    const ctx = await replicatedLog(cold);
    try {
      await publish(ctx.log, ['s'], 2);
      cold.failNextCommits = 1;
      await assert.rejects(append(ctx.log, 3));
      let next: number | undefined;
      for (let i = 0; i < 200 && next === undefined; i++) {
        next = await append(ctx.log, 4).catch(() => undefined);
        if (next === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.ok(next !== undefined, 'appends go on after the recovery');
      assert.deepEqual(await sealAndFlush(ctx.log, cold), ['s@1']);
    } finally {
      await ctx.dispose();
    }
  });
});
