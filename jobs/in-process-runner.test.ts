import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { Log } from '../core/index.js';
import { tempLog } from '../log/test-support/temp-log.js';
import { Compactor } from '../retention/compaction.js';
import { InProcessRunner } from './in-process-runner.js';
import { JobMetrics } from './job-metrics.js';
import { Replicator } from '../tiering/replicator.js';
import { MemoryColdStore } from '../tiering/test-support/memory-cold-store.js';

const silent = pino({ level: 'silent' });

async function until(check: () => Promise<boolean>, what = 'the runner', timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const replicated = async (log: Log, subject: string): Promise<boolean[]> =>
  (await log.segments(subject)).map((s) => s.replicated);

function start(
  log: Log,
  cold: MemoryColdStore,
  registry: Registry,
  more: { attempts?: number; intervalMs?: number } = {},
): InProcessRunner {
  const metrics = new JobMetrics(registry);
  return new InProcessRunner({
    log,
    compactor: new Compactor(log, { retentionMs: 0, localRetentionMs: 0, localRetentionBytes: 0 }, metrics),
    replicator: new Replicator(log, cold, 0, metrics),
    intervalMs: more.intervalMs ?? 3_600_000,
    metrics,
    logger: silent,
    backoffMs: 10,
    ...(more.attempts === undefined ? {} : { attempts: more.attempts }),
  });
}

describe('InProcessRunner', () => {
  describe('when a segment is sealed', () => {
    it('should copy it to the cold store and mark it replicated, once', async () => {
      const ctx = await tempLog({ segmentMaxRecords: 10 });
      const cold = new MemoryColdStore();
      const registry = new Registry();
      const runner = start(ctx.log, cold, registry);
      try {
        for (let i = 0; i < 25; i++)
          await ctx.log.append({ subject: 'a', body: Buffer.from(`m${i + 1}`), expirationSeconds: 0 });
        await until(async () => (await replicated(ctx.log, 'a')).filter(Boolean).length === 2);
        assert.deepEqual(await replicated(ctx.log, 'a'), [true, true, false]);
        assert.equal(cold.rows.get('a')?.size, 20);
        assert.deepEqual([...cold.writes.values()], [1, 1]);
        // The counter moves just after the segment is marked: wait for it rather than race it.
        await until(
          async () => /broker_segments_replicated_total 2/.test(await registry.metrics()),
          'the replication counter',
        );
      } finally {
        await runner.close();
        await ctx.dispose();
      }
    });
  });

  describe('when the cold store fails halfway through a copy', () => {
    it('should retry with backoff and complete, with every row once', async () => {
      const ctx = await tempLog({ segmentMaxRecords: 100 });
      const cold = new MemoryColdStore();
      cold.failNextWrites = 1;
      const registry = new Registry();
      const runner = start(ctx.log, cold, registry);
      try {
        cold.failAfterRows = 37;
        for (let i = 0; i < 101; i++)
          await ctx.log.append({ subject: 'b', body: Buffer.from('x'), expirationSeconds: 0 });
        await until(async () => (await replicated(ctx.log, 'b'))[0] === true);
        assert.deepEqual(
          [...cold.rows.get('b')!.keys()].sort((x, y) => x - y),
          Array.from({ length: 100 }, (_, i) => i + 1),
        );
        assert.equal(cold.writes.get('b@1'), 3, 'a failed write, one that failed after 37 rows, then a complete copy');
        assert.match(await registry.metrics(), /broker_job_retries_total\{job="replication"\} 2/);
      } finally {
        await runner.close();
        await ctx.dispose();
      }
    });
  });

  describe('when a copy fails every attempt', () => {
    it('should dead-letter it (metrics) and re-drive it at the next sweep', async () => {
      const ctx = await tempLog({ segmentMaxRecords: 5 });
      const cold = new MemoryColdStore();
      cold.failNextWrites = 3;
      const registry = new Registry();
      const runner = start(ctx.log, cold, registry, { attempts: 3, intervalMs: 300 });
      try {
        for (let i = 0; i < 6; i++)
          await ctx.log.append({ subject: 'c', body: Buffer.from('x'), expirationSeconds: 0 });
        await until(async () =>
          /broker_jobs_dead_lettered_total\{job="replication"\} 1/.test(await registry.metrics()),
        );
        assert.equal((await replicated(ctx.log, 'c'))[0], false);
        await until(async () => (await replicated(ctx.log, 'c'))[0] === true);
        assert.equal(cold.writes.get('c@1'), 4);
        await until(async () => /broker_jobs_dead_letter\{job="replication"\} 0/.test(await registry.metrics()));
        await until(
          async () => /broker_replication_lag_segments 0/.test(await registry.metrics()),
          'the next sweep measures no lag',
        );
      } finally {
        await runner.close();
        await ctx.dispose();
      }
    });
  });

  describe('when segments were sealed before the runner started', () => {
    it('should find them in the log at the first sweep', async () => {
      const ctx = await tempLog({ segmentMaxRecords: 3 });
      const cold = new MemoryColdStore();
      try {
        for (let i = 0; i < 10; i++)
          await ctx.log.append({ subject: 'd', body: Buffer.from('x'), expirationSeconds: 0 });
        const runner = start(ctx.log, cold, new Registry());
        try {
          await until(async () => (await replicated(ctx.log, 'd')).filter(Boolean).length === 3);
        } finally {
          await runner.close();
        }
      } finally {
        await ctx.dispose();
      }
    });
  });
});
