import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { Log, SegmentRef } from '../core/index.js';
import { tempLog } from '../log/test-support/temp-log.js';
import { randomQueueName, startRedis, stopRedis, testRedisUrl } from '../test-support/services.js';
import { Replicator } from '../tiering/index.js';
import { MemoryColdStore } from '../tiering/test-support/memory-cold-store.js';
import { BullMqQueues, queueName } from './bullmq/index.js';
import { JobMetrics, JobRunner, type KeyedJob } from './index.js';
import { flakyJob, jobRunnerContract, until } from './test-support/job-runner-contract.js';

const silent = pino({ level: 'silent' });
const prefixes: string[] = [];

/** Queues under a fresh prefix (obliterated after the suite), for one broker id. */
function queues(brokerId = 'b1', prefix = randomQueueName('q')): BullMqQueues {
  prefixes.push(prefix);
  return new BullMqQueues({ redisUrl: testRedisUrl(), prefix, brokerId, logger: silent });
}

after(async () => {
  // Clean up through the public API: every queue under every prefix the tests used.
  const connection = new Redis(testRedisUrl(), { maxRetriesPerRequest: null });
  for (const prefix of new Set(prefixes)) {
    for (const key of await connection.keys(`${prefix}:*:meta`)) {
      const name = key.slice(prefix.length + 1, -':meta'.length);
      const queue = new Queue(name, { connection, prefix });
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
    }
  }
  connection.disconnect();
});

function replication(log: Log, cold: MemoryColdStore, metrics: JobMetrics): KeyedJob<SegmentRef> {
  const replicator = new Replicator(log, cold, 0, metrics);
  return {
    name: 'replication',
    idOf: (ref) => `r-${Buffer.from(ref.subject).toString('base64url')}-${ref.baseOffset}`,
    run: (ref) => replicator.replicate(ref),
    owed: () => replicator.owed(),
  };
}

/** A replication runner on BullMQ whose seal events enqueue, as the broker's wiring does. */
function replicating(log: Log, cold: MemoryColdStore, q: BullMqQueues, intervalMs = 1000) {
  const metrics = new JobMetrics();
  const runner = JobRunner.start({
    queues: q,
    keyed: [replication(log, cold, metrics)],
    intervalMs,
    metrics,
    logger: silent,
  });
  const off = log.onSegmentSealed(
    (s) => void runner.enqueue('replication', { subject: s.subject, baseOffset: s.baseOffset }),
  );
  return {
    runner,
    close: async () => {
      off();
      await runner.close();
    },
  };
}

const allReplicated = (log: Log, subject: string) => async () =>
  (await log.segments(subject)).filter((s) => s.sealed).every((s) => s.replicated);

describe('JobRunner on BullMQ (needs Redis)', () => {
  jobRunnerContract(() => queues(randomQueueName('b')));

  describe('when two runners of one broker share the Redis', () => {
    it('should run each keyed job once', async () => {
      const ctx = await tempLog({ segmentMaxRecords: 50 });
      const cold = new MemoryColdStore();
      const prefix = randomQueueName('q');
      const a = replicating(ctx.log, cold, queues('shared', prefix));
      const b = replicating(ctx.log, cold, queues('shared', prefix));
      try {
        for (let i = 0; i < 501; i++)
          await ctx.log.append({ subject: 'once', body: Buffer.from('x'), expirationSeconds: 0 });
        await until(allReplicated(ctx.log, 'once'), 'every sealed segment', 30_000);
        assert.equal(cold.writes.size, 10);
        assert.ok(
          [...cold.writes.values()].every((n) => n === 1),
          `copies: ${JSON.stringify([...cold.writes])}`,
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
      const prefix = randomQueueName('q');
      const [c1, c2] = [new MemoryColdStore(), new MemoryColdStore()];
      const r1 = replicating(one.log, c1, queues('broker-1', prefix));
      const r2 = replicating(two.log, c2, queues('broker-2', prefix));
      try {
        for (let i = 0; i < 31; i++) {
          await one.log.append({ subject: 'apart.one', body: Buffer.from('1'), expirationSeconds: 0 });
          await two.log.append({ subject: 'apart.two', body: Buffer.from('2'), expirationSeconds: 0 });
        }
        await until(allReplicated(one.log, 'apart.one'), 'broker 1', 30_000);
        await until(allReplicated(two.log, 'apart.two'), 'broker 2', 30_000);
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

  describe('when a keyed job fails every attempt', () => {
    it('should keep it in the failed set with its error until the sweep re-drives it', async () => {
      const prefix = randomQueueName('q');
      const registry = new Registry();
      const { job, owed } = flakyJob(['x'], 2);
      const runner = JobRunner.start({
        queues: queues('dead', prefix),
        keyed: [job],
        intervalMs: 1500,
        attempts: 2,
        backoffMs: 20,
        metrics: new JobMetrics(registry),
        logger: silent,
      });
      const connection = new Redis(testRedisUrl(), { maxRetriesPerRequest: null });
      const queue = new Queue(queueName('dead', 'flaky'), { connection, prefix });
      try {
        await until(async () => /dead_lettered_total\{task="flaky"\} 1/.test(await registry.metrics()), 'dead letter');
        const failed = await queue.getJob('flaky-x');
        assert.equal(failed?.failedReason, 'attempt 2 of x fails (injected)');
        await until(() => owed.size === 0, 'the re-drive');
      } finally {
        await queue.close();
        connection.disconnect();
        await runner.close();
      }
    });
  });

  describe('when Redis restarts in the middle of a run', () => {
    it('should lose no job: owed segments are replicated once it is back', async () => {
      const ctx = await tempLog({ segmentMaxRecords: 20 });
      const cold = new MemoryColdStore();
      const r = replicating(ctx.log, cold, queues('restart'));
      try {
        for (let i = 0; i < 41; i++)
          await ctx.log.append({ subject: 'restart', body: Buffer.from('x'), expirationSeconds: 0 });
        await stopRedis();
        for (let i = 0; i < 60; i++)
          await ctx.log.append({ subject: 'restart', body: Buffer.from('y'), expirationSeconds: 0 });
        await new Promise((res) => setTimeout(res, 500));
        await startRedis();
        await until(allReplicated(ctx.log, 'restart'), 'every owed segment', 60_000);
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
        assert.equal(cold.rows.get('restart')?.size, 100);
        assert.equal(cold.writes.size, 5);
      } finally {
        await startRedis();
        await r.close();
        await ctx.dispose();
      }
    });
  });
});
