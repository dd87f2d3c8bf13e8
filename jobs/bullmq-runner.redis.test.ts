import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { ColdStore, Log } from '../core/index.js';
import { tempLog } from '../log/test-support/temp-log.js';
import { openCassandraColdStore, type CassandraColdStore } from '../tiering/cassandra/cassandra-cold-store.js';
import {
  randomName,
  startRedis,
  stopRedis,
  testCqlContactPoints,
  testCqlLocalDc,
  testRedisUrl,
} from '../test-support/services.js';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { BullMqRunner, queueNames, replicationJobId } from './bullmq-runner.js';
import { MemoryColdStore } from '../tiering/test-support/memory-cold-store.js';
import { Compactor } from '../retention/compaction.js';
import { compactionContract } from '../retention/test-support/compaction-contract.js';
import { JobMetrics } from './job-metrics.js';
import { Replicator } from '../tiering/replicator.js';

const silent = pino({ level: 'silent' });

/** Counts the segment copies that reach the real cold store. */
function counting(cold: ColdStore): { store: ColdStore; writes: Map<string, number> } {
  const writes = new Map<string, number>();
  const store: ColdStore = {
    writeSegment: (segment, records, retentionMs) => {
      const key = `${segment.subject}@${segment.baseOffset}`;
      writes.set(key, (writes.get(key) ?? 0) + 1);
      return cold.writeSegment(segment, records, retentionMs);
    },
    get: (s, o) => cold.get(s, o),
    readRange: (s, f, b, l) => cold.readRange(s, f, b, l),
    close: async () => undefined,
  };
  return { store, writes };
}

async function until(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 200));
  }
}

const allReplicated = (log: Log, subject: string) => async () =>
  (await log.segments(subject)).filter((s) => s.sealed).every((s) => s.replicated);

describe('BullMqRunner (needs Redis and the CQL server)', () => {
  const keyspace = randomName('bull');
  let cold: CassandraColdStore;
  before(async () => {
    cold = await openCassandraColdStore({
      contactPoints: testCqlContactPoints(),
      localDataCenter: testCqlLocalDc(),
      keyspace,
      replicationFactor: 1,
      consistency: 'localQuorum',
      concurrency: 32,
    });
  });
  after(async () => cold.close());

  const runner = (
    log: Log,
    store: ColdStore | undefined,
    prefix: string,
    brokerId: string,
    now?: () => number,
    more: { attempts?: number; metrics?: JobMetrics; intervalMs?: number } = {},
  ) =>
    BullMqRunner.start({
      redisUrl: testRedisUrl(),
      prefix,
      brokerId,
      log,
      compactor: new Compactor(log, { retentionMs: 2 * 3_600_000, localRetentionMs: 0, localRetentionBytes: 0 }),
      ...(store === undefined ? {} : { replicator: new Replicator(log, store, 0) }),
      intervalMs: more.intervalMs ?? 1000,
      metrics: more.metrics ?? new JobMetrics(),
      logger: silent,
      backoffMs: 100,
      ...(more.attempts === undefined ? {} : { attempts: more.attempts }),
      ...(now === undefined ? {} : { now }),
    });

  describe('when compacting', () => {
    it('should pass the same compaction contract as the in-process runner', async () => {
      await compactionContract((_compactor, log, now) => runner(log, undefined, randomName('q'), 'b1', now));
    });
  });

  describe('when two runners of one broker share the Redis', () => {
    it('should replicate each sealed segment once', async () => {
      const ctx = await tempLog({ segmentMaxRecords: 50 });
      const { store, writes } = counting(cold);
      const prefix = randomName('q');
      const a = await runner(ctx.log, store, prefix, 'shared');
      const b = await runner(ctx.log, store, prefix, 'shared');
      try {
        for (let i = 0; i < 501; i++)
          await ctx.log.append({ subject: 'once', body: Buffer.from('x'), expirationSeconds: 0 });
        await until(allReplicated(ctx.log, 'once'));
        assert.equal(writes.size, 10);
        assert.ok(
          [...writes.values()].every((n) => n === 1),
          `copies per segment: ${JSON.stringify([...writes])}`,
        );
      } finally {
        await a.close();
        await b.close();
        await ctx.dispose();
      }
    });
  });

  describe('when two brokers share the Redis', () => {
    it('should keep their jobs apart: each replicates its own segments', async () => {
      const one = await tempLog({ segmentMaxRecords: 10 });
      const two = await tempLog({ segmentMaxRecords: 10 });
      const prefix = randomName('q');
      const c1 = counting(cold);
      const c2 = counting(cold);
      const r1 = await runner(one.log, c1.store, prefix, 'broker-1');
      const r2 = await runner(two.log, c2.store, prefix, 'broker-2');
      try {
        for (let i = 0; i < 31; i++) {
          await one.log.append({ subject: 'apart.one', body: Buffer.from('1'), expirationSeconds: 0 });
          await two.log.append({ subject: 'apart.two', body: Buffer.from('2'), expirationSeconds: 0 });
        }
        await until(allReplicated(one.log, 'apart.one'));
        await until(allReplicated(two.log, 'apart.two'));
        assert.deepEqual([...c1.writes.keys()].sort(), ['apart.one@1', 'apart.one@11', 'apart.one@21']);
        assert.deepEqual([...c2.writes.keys()].sort(), ['apart.two@1', 'apart.two@11', 'apart.two@21']);
      } finally {
        await r1.close();
        await r2.close();
        await one.dispose();
        await two.dispose();
      }
    });
  });

  describe('when a replication job fails every attempt', () => {
    it('should keep it in the failed set (counted as dead-lettered) and re-drive it at the next sweep', async () => {
      const ctx = await tempLog({ segmentMaxRecords: 5 });
      const store = new MemoryColdStore();
      store.failNextWrites = 2;
      const registry = new Registry();
      const prefix = randomName('q');
      const r = await runner(ctx.log, store, prefix, 'dead', undefined, {
        attempts: 2,
        metrics: new JobMetrics(registry),
        intervalMs: 1500,
      });
      const connection = new Redis(testRedisUrl(), { maxRetriesPerRequest: null });
      const queue = new Queue(queueNames('dead').replication, { connection, prefix });
      try {
        for (let i = 0; i < 6; i++)
          await ctx.log.append({ subject: 'dead', body: Buffer.from('x'), expirationSeconds: 0 });
        await until(
          async () => /broker_jobs_dead_lettered_total\{job="replication"\} 1/.test(await registry.metrics()),
          10_000,
        );
        assert.equal(
          (await queue.getJob(replicationJobId({ subject: 'dead', baseOffset: 1 })))?.failedReason,
          'cold store unavailable (injected)',
        );
        await until(allReplicated(ctx.log, 'dead'), 10_000);
        assert.equal(store.writes.get('dead@1'), 3, 'two failed attempts, then the sweep re-drove it');
        assert.match(await registry.metrics(), /broker_job_retries_total\{job="replication"\} [1-9]/);
      } finally {
        await queue.obliterate({ force: true }).catch(() => undefined);
        await queue.close();
        connection.disconnect();
        await r.close();
        await ctx.dispose();
      }
    });
  });

  describe('when Redis restarts in the middle of a run', () => {
    it('should lose no job: owed segments are replicated once it is back', async () => {
      const ctx = await tempLog({ segmentMaxRecords: 20 });
      const { store, writes } = counting(cold);
      const r = await runner(ctx.log, store, randomName('q'), 'restart');
      try {
        for (let i = 0; i < 41; i++)
          await ctx.log.append({ subject: 'restart', body: Buffer.from('x'), expirationSeconds: 0 });
        await stopRedis();
        for (let i = 0; i < 60; i++)
          await ctx.log.append({ subject: 'restart', body: Buffer.from('y'), expirationSeconds: 0 });
        await new Promise((res) => setTimeout(res, 500));
        await startRedis();
        await until(allReplicated(ctx.log, 'restart'), 60_000);
        assert.deepEqual(
          (await ctx.log.segments('restart')).map((s) => [s.baseOffset, s.replicated]),
          [
            [1, true],
            [21, true],
            [41, true],
            [61, true],
            [81, true],
            [101, false],
          ],
        );
        const rows = await cold.readRange('restart', 1, 101, { maxRecords: 1000, maxBytes: 1 << 20 });
        assert.equal(rows.length, 100);
        assert.ok(writes.size === 5);
      } finally {
        await startRedis();
        await r.close();
        await ctx.dispose();
      }
    });
  });
});
