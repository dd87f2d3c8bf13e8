import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UnavailableError, type SegmentRef } from '../core/index.js';
import { tempLog } from '../log/test-support/temp-log.js';
import { MemoryColdStore } from './test-support/memory-cold-store.js';
import type { ReplicationObserver } from './replication-observer.js';
import { Replicator } from './replicator.js';

const ALL = { maxRecords: 100_000, maxBytes: 1 << 30 } as const;

/** An observer that records what it is told, with a fixed lag. */
function recordingObserver(lag = 0): ReplicationObserver & { readonly copies: number[] } {
  const copies: number[] = [];
  return { copies, replicationLag: lag, segmentReplicated: (bytes) => copies.push(bytes) };
}

async function owedRefs(replicator: Replicator): Promise<SegmentRef[]> {
  const refs: SegmentRef[] = [];
  for await (const ref of replicator.owed()) refs.push(ref);
  return refs;
}

describe('Replicator', () => {
  describe('when a sealed segment is replicated', () => {
    it('should copy every record, mark the segment replicated, and report its bytes once', async () => {
      const ctx = await tempLog({ segmentMaxRecords: 10 });
      const cold = new MemoryColdStore();
      const observer = recordingObserver();
      const replicator = new Replicator(ctx.log, cold, 0, observer, null);
      try {
        for (let o = 1; o <= 15; o++)
          await ctx.log.append({ subject: 's', body: Buffer.from(`m${o}`), expirationSeconds: 0 });
        const bytes = 'm1m2m3m4m5m6m7m8m9m10'.length;
        assert.deepEqual(await replicator.replicate({ subject: 's', baseOffset: 1 }), { rows: 10, bytes });
        assert.equal((await ctx.log.segment({ subject: 's', baseOffset: 1 }))?.replicated, true);
        assert.deepEqual(
          (await cold.readRange('s', 1, 100, ALL)).map((r) => r.offset),
          Array.from({ length: 10 }, (_, i) => i + 1),
        );
        assert.deepEqual(observer.copies, [bytes]);
      } finally {
        await ctx.dispose();
      }
    });

    it('should skip a segment that is replicated already, still active, or gone, and report nothing', async () => {
      const ctx = await tempLog({ segmentMaxRecords: 10 });
      const cold = new MemoryColdStore();
      const observer = recordingObserver();
      const replicator = new Replicator(ctx.log, cold, 0, observer, null);
      try {
        for (let o = 1; o <= 15; o++)
          await ctx.log.append({ subject: 's', body: Buffer.from('x'), expirationSeconds: 0 });
        await replicator.replicate({ subject: 's', baseOffset: 1 });
        assert.equal(await replicator.replicate({ subject: 's', baseOffset: 1 }), 'skipped');
        assert.equal(await replicator.replicate({ subject: 's', baseOffset: 11 }), 'skipped', 'active');
        assert.equal(await replicator.replicate({ subject: 'nobody', baseOffset: 1 }), 'skipped');
        assert.deepEqual(observer.copies, [10]);
        assert.equal(cold.writes.get('s@1'), 1, 'no second copy');
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when the cold store fails in the middle of a copy', () => {
    it('should reject, leave the segment owed and unreported, and complete on a retry', async () => {
      const ctx = await tempLog({ segmentMaxRecords: 10 });
      const cold = new MemoryColdStore();
      const observer = recordingObserver();
      const replicator = new Replicator(ctx.log, cold, 0, observer, null);
      try {
        for (let o = 1; o <= 10; o++)
          await ctx.log.append({ subject: 's', body: Buffer.from('x'), expirationSeconds: 0 });
        await ctx.log.sealStaleSegments(Date.now() + 24 * 3_600_000);
        cold.failAfterRows = 4;
        await assert.rejects(replicator.replicate({ subject: 's', baseOffset: 1 }), UnavailableError);
        assert.equal((await ctx.log.segment({ subject: 's', baseOffset: 1 }))?.replicated, false);
        assert.deepEqual(await owedRefs(replicator), [{ subject: 's', baseOffset: 1 }]);
        assert.deepEqual(await cold.readRange('s', 1, 11, ALL), [], 'nothing of a failed copy is readable');
        assert.deepEqual(observer.copies, []);
        assert.deepEqual(await replicator.replicate({ subject: 's', baseOffset: 1 }), { rows: 10, bytes: 10 });
        assert.deepEqual(await owedRefs(replicator), []);
        assert.deepEqual(observer.copies, [10]);
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when segments are owed', () => {
    it('should list every sealed, unreplicated segment across subjects, over more than one page', async () => {
      const ctx = await tempLog({ segmentMaxRecords: 1 });
      const replicator = new Replicator(ctx.log, new MemoryColdStore(), 0, undefined, null);
      try {
        // One record per segment: each append seals the segment before it, so n appends owe n - 1 segments.
        for (const subject of ['a', 'b'])
          for (let o = 1; o <= 300; o++)
            await ctx.log.append({ subject, body: Buffer.from('x'), expirationSeconds: 0 });
        await replicator.replicate({ subject: 'a', baseOffset: 2 });
        const owed = await owedRefs(replicator);
        assert.equal(owed.length, 2 * 299 - 1);
        assert.equal(new Set(owed.map((r) => `${r.subject}@${r.baseOffset}`)).size, owed.length, 'each once');
        assert.ok(!owed.some((r) => r.subject === 'a' && r.baseOffset === 2));
        assert.ok(!owed.some((r) => r.baseOffset === 300), 'active segments are not owed');
      } finally {
        await ctx.dispose();
      }
    });
  });
});
