import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { JobMetrics, JobRunner, type JobQueue, type JobQueues } from './index.js';

const never = <T>(): Promise<T> => new Promise<T>(() => undefined);

/** Queues whose backend is away: they deliver nothing, and every command waits for ever (as BullMQ's do). */
function unreachableQueues(): JobQueues {
  const queue: JobQueue = {
    work: () => undefined,
    add: () => never(),
    run: () => never(),
    schedule: () => never(),
    deadLetterCount: () => never(),
    close: () => never(),
  };
  return { kind: 'bullmq', open: () => queue, unreachableSince: () => 0, close: async () => undefined };
}

const elapsed = async (f: () => Promise<unknown>): Promise<number> => {
  const started = Date.now();
  await f();
  return Date.now() - started;
};

describe('JobRunner', () => {
  describe('when the queue backend is unreachable', () => {
    it('should run periodic jobs in process, run them now locally, bound enqueue and close', async () => {
      let compactions = 0;
      const runner = JobRunner.start({
        queues: unreachableQueues(),
        periodic: [{ name: 'compaction', run: async () => ++compactions }],
        keyed: [{ name: 'replication', idOf: String, run: async () => undefined, owed: async function* () {} }],
        intervalMs: 100,
        metrics: new JobMetrics(),
        logger: pino({ level: 'silent' }),
        closeTimeoutMs: 300,
        enqueueTimeoutMs: 300,
      });
      await new Promise((resolve) => setTimeout(resolve, 450));
      assert.ok(compactions >= 2, `periodic job ran ${compactions} times in 450 ms at 100 ms`);
      assert.ok(((await runner.runNow('compaction')) as number) > 2);
      assert.ok((await elapsed(() => runner.enqueue('replication', 1))) < 400, 'enqueue is bounded');
      assert.ok((await elapsed(() => runner.close())) < 1000, 'close is bounded');
    });
  });
});
