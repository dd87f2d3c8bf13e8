import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { Log, SegmentRef } from '../../core/index.js';
import { tempLog } from '../../log/test-support/temp-log.js';
import { compactionContract } from '../../retention/test-support/compaction-contract.js';
import { Replicator } from '../../tiering/index.js';
import { MemoryColdStore } from '../../tiering/test-support/memory-cold-store.js';
import { JobMetrics, JobRunner, type JobQueues, type JobRunnerOptions, type KeyedJob } from '../index.js';

const silent = pino({ level: 'silent' });

/** Waits until `check` holds, polling; fails with `what` after the timeout. */
export async function until(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const metric = async (registry: Registry, pattern: RegExp): Promise<boolean> => pattern.test(await registry.metrics());

/** A keyed job over a set of owed items: each succeeds once `failures` of its attempts have failed. */
export function flakyJob(items: string[], failures: number, more: Partial<KeyedJob<string>> = {}) {
  const owed = new Set(items);
  const attempts = new Map<string, number[]>();
  const job: KeyedJob<string> = {
    name: 'flaky',
    idOf: (item) => `flaky-${item}`,
    async run(item) {
      const times = attempts.get(item) ?? [];
      times.push(Date.now());
      attempts.set(item, times);
      if (times.length <= failures) throw new Error(`attempt ${times.length} of ${item} fails (injected)`);
      owed.delete(item);
      return item;
    },
    async *owed() {
      yield* [...owed];
    },
    ...more,
  };
  return { job, owed, attempts };
}

/**
 * The job-runner contract, one body for every JobQueue implementation (memory-queue.test.ts,
 * bullmq-queue.redis.test.ts): periodic runs, retries with capped exponential backoff, dead letters re-driven by the
 * sweep, the concurrency limit, close waiting for the job in hand, and the broker's two processors (compaction and
 * replication, the real ones on a LevelDB log in a temp dir) through the runner.
 * `openQueues` gives each case fresh queues of its own.
 */
export function jobRunnerContract(openQueues: () => JobQueues): void {
  const start: Start = (registry, options, metrics = new JobMetrics(registry)) =>
    JobRunner.start({ queues: openQueues(), metrics, logger: silent, ...options });

  describe('when a job is periodic', () => {
    it('should run it every interval', async () => {
      let runs = 0;
      const runner = start(new Registry(), { intervalMs: 150, periodic: [{ name: 'tick', run: async () => ++runs }] });
      try {
        await until(() => runs >= 3, 'three periodic runs');
        assert.equal(await runner.runNow('tick'), runs, 'runNow resolves with the run result');
      } finally {
        await runner.close();
      }
    });
  });

  describe('when a keyed job fails and then succeeds', () => {
    it('should retry it and count the retries', async () => {
      const registry = new Registry();
      const { job, owed, attempts } = flakyJob(['a'], 2);
      const runner = start(registry, { intervalMs: 60_000, keyed: [job], backoffMs: 50 });
      try {
        await until(() => owed.size === 0, 'the job to succeed');
        assert.equal(attempts.get('a')?.length, 3);
        await until(() => metric(registry, /broker_job_retries_total\{task="flaky"\} 2/), 'two retries counted');
        assert.match(await registry.metrics(), /broker_jobs_total\{task="flaky",outcome="failed"\} 2/);
        assert.match(await registry.metrics(), /broker_jobs_total\{task="flaky",outcome="ok"\} 1/);
        assert.doesNotMatch(await registry.metrics(), /broker_jobs_dead_lettered_total\{task="flaky"\}/);
      } finally {
        await runner.close();
      }
    });

    it('should cap the exponential backoff at maxBackoffMs', async () => {
      const { job, owed, attempts } = flakyJob(['a'], 3);
      const runner = start(new Registry(), {
        intervalMs: 60_000,
        keyed: [job],
        attempts: 4,
        backoffMs: 200,
        maxBackoffMs: 400,
      });
      try {
        await until(() => owed.size === 0, 'the fourth attempt');
        const times = attempts.get('a') ?? [];
        const gaps = times.slice(1).map((t, i) => t - (times[i] ?? t));
        assert.equal(gaps.length, 3);
        const [first = 0, second = 0, third = 0] = gaps;
        assert.ok(first >= 190 && first < 390, `first retry after 200 ms, got ${gaps.join(', ')}`);
        assert.ok(second >= 390, `second retry after 400 ms, got ${gaps.join(', ')}`);
        assert.ok(third >= 390 && third < 700, `third retry capped at 400 ms, not 800: got ${gaps.join(', ')}`);
      } finally {
        await runner.close();
      }
    });
  });

  describe('when a keyed job fails every attempt', () => {
    it('should dead-letter it (counted) and re-drive it at the next sweep', async () => {
      const registry = new Registry();
      const swept: number[] = [];
      const { job, owed, attempts } = flakyJob(['x'], 2, { onSwept: (n) => swept.push(n) });
      const runner = start(registry, { intervalMs: 1000, keyed: [job], attempts: 2, backoffMs: 20 });
      try {
        await until(() => metric(registry, /broker_jobs_dead_lettered_total\{task="flaky"\} 1/), 'the dead letter');
        assert.equal(owed.size, 1, 'still owed');
        await until(() => owed.size === 0, 'the re-drive by a sweep');
        assert.equal(attempts.get('x')?.length, 3, 'two failed attempts, then the sweep re-drove it');
        await until(() => metric(registry, /broker_jobs_dead_letter\{task="flaky"\} 0/), 'no dead letter left');
        await until(() => swept.at(-1) === 0, 'a sweep that finds nothing owed');
        assert.match(await registry.metrics(), /broker_jobs_total\{task="sweep",outcome="ok"\} [1-9]/);
      } finally {
        await runner.close();
      }
    });
  });

  describe('when more keyed jobs are owed than the concurrency', () => {
    it('should run at most `concurrency` at once', async () => {
      let inHand = 0;
      let most = 0;
      const done: string[] = [];
      const items = ['1', '2', '3', '4', '5', '6'];
      const runner = start(new Registry(), {
        intervalMs: 60_000,
        keyed: [
          {
            name: 'slow',
            concurrency: 2,
            idOf: (item: string) => `slow-${item}`,
            async run(item: string) {
              most = Math.max(most, ++inHand);
              await new Promise((r) => setTimeout(r, 100));
              inHand -= 1;
              done.push(item);
            },
            async *owed() {
              yield* items;
            },
          },
        ],
      });
      try {
        await until(() => done.length === items.length, 'every job');
        assert.equal(most, 2);
      } finally {
        await runner.close();
      }
    });
  });

  describe('when closed with a job in hand', () => {
    it('should wait for that job to finish', async () => {
      let release = (): void => undefined;
      let started = false;
      let finished = false;
      const runner = start(new Registry(), {
        intervalMs: 60_000,
        keyed: [
          {
            name: 'held',
            idOf: (item: string) => item,
            async run() {
              started = true;
              await new Promise<void>((r) => (release = r));
              finished = true;
            },
            async *owed() {},
          },
        ],
      });
      await runner.enqueue('held', 'one');
      await until(() => started, 'the job to start');
      let closed = false;
      const closing = runner.close().then(() => (closed = true));
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(closed, false, 'close waits while the job is in hand');
      release();
      await closing;
      assert.equal(finished, true);
    });
  });

  processorsContract(start);
}

type Start = (
  registry: Registry,
  options: Omit<JobRunnerOptions, 'queues' | 'metrics' | 'logger'>,
  metrics?: JobMetrics,
) => JobRunner;

/** The broker's processors through the runner, wired as api/server/job-definitions.ts wires them. */
function processorsContract(start: Start): void {
  const replicationJob = (log: Log, cold: MemoryColdStore, metrics: JobMetrics): KeyedJob<SegmentRef> => {
    const replicator = new Replicator(log, cold, 0, metrics);
    return {
      name: 'replication',
      idOf: (ref) => `r-${Buffer.from(ref.subject).toString('base64url')}-${ref.baseOffset}`,
      run: (ref) => replicator.replicate(ref),
      owed: () => replicator.owed(),
      onSwept: (owed) => metrics.setLag(owed),
    };
  };
  const replicated = async (log: Log, subject: string): Promise<boolean[]> =>
    (await log.segments(subject)).map((s) => s.replicated);

  describe('when compaction runs through the runner', () => {
    it('should pass the compaction contract', async () => {
      await compactionContract(async (compactor, _log, now) => {
        const runner = start(new Registry(), {
          intervalMs: 3_600_000,
          periodic: [{ name: 'compaction', run: () => compactor.run(now()) }],
        });
        return {
          runCompactionNow: async () =>
            (await runner.runNow('compaction')) as Awaited<ReturnType<typeof compactor.run>>,
          close: () => runner.close(),
        };
      });
    });
  });

  describe('when replication runs through the runner', () => {
    it('should copy segments sealed before the start (first sweep) and after it (seal events), each once', async () => {
      const ctx = await tempLog({ segmentMaxRecords: 10 });
      const cold = new MemoryColdStore();
      const registry = new Registry();
      const metrics = new JobMetrics(registry);
      for (let i = 0; i < 15; i++) await ctx.log.append({ subject: 'a', body: Buffer.from('x'), expirationSeconds: 0 });
      const job = replicationJob(ctx.log, cold, metrics);
      const runner = start(registry, { intervalMs: 3_600_000, keyed: [job] }, metrics);
      const off = ctx.log.onSegmentSealed(
        (s) => void runner.enqueue('replication', { subject: s.subject, baseOffset: s.baseOffset }),
      );
      try {
        await until(async () => (await replicated(ctx.log, 'a'))[0] === true, 'the segment owed before the start');
        for (let i = 0; i < 10; i++)
          await ctx.log.append({ subject: 'a', body: Buffer.from('y'), expirationSeconds: 0 });
        await until(async () => (await replicated(ctx.log, 'a')).filter(Boolean).length === 2, 'the sealed segment');
        assert.deepEqual(await replicated(ctx.log, 'a'), [true, true, false]);
        assert.equal(cold.rows.get('a')?.size, 20);
        assert.deepEqual([...cold.writes.values()], [1, 1], 'each segment copied once');
        await until(() => metric(registry, /broker_segments_replicated_total 2/), 'the replication counter');
      } finally {
        off();
        await runner.close();
        await ctx.dispose();
      }
    });

    it('should retry a copy that failed halfway and end with every row once', async () => {
      const ctx = await tempLog({ segmentMaxRecords: 100 });
      const cold = new MemoryColdStore();
      cold.failNextWrites = 1;
      cold.failAfterRows = 37;
      const registry = new Registry();
      const metrics = new JobMetrics(registry);
      const job = replicationJob(ctx.log, cold, metrics);
      for (let i = 0; i < 101; i++)
        await ctx.log.append({ subject: 'b', body: Buffer.from('x'), expirationSeconds: 0 });
      const runner = start(registry, { intervalMs: 3_600_000, keyed: [job], backoffMs: 20 }, metrics);
      try {
        await until(async () => (await replicated(ctx.log, 'b'))[0] === true, 'the copy');
        const offsets = [...(cold.rows.get('b')?.keys() ?? [])].sort((x, y) => x - y);
        assert.deepEqual(
          offsets,
          Array.from({ length: 100 }, (_, i) => i + 1),
        );
        assert.equal(cold.writes.get('b@1'), 3, 'a failed write, one that failed after 37 rows, then a complete copy');
        assert.match(await registry.metrics(), /broker_job_retries_total\{task="replication"\} 2/);
      } finally {
        await runner.close();
        await ctx.dispose();
      }
    });
  });
}
