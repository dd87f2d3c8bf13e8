import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../core/index.js';
import { MemoryQueue, MemoryQueues, resolveRetryPolicy, retryDelayMs } from './index.js';
import { jobRunnerContract } from './test-support/job-runner-contract.js';

describe('JobRunner on the memory queue', () => {
  jobRunnerContract(() => new MemoryQueues());
});

describe('MemoryQueue', () => {
  describe('when a job with an id is added again', () => {
    it('should keep one while it waits, and re-drive it once it is a dead letter', async () => {
      const queue = new MemoryQueue();
      assert.equal(await queue.add('j', 1, { id: 'one', attempts: 1 }), 'added');
      assert.equal(await queue.add('j', 1, { id: 'one', attempts: 1 }), 'present');
      let calls = 0;
      queue.work(
        async () => {
          calls += 1;
          throw new Error('fails (injected)');
        },
        { concurrency: 1, retryDelayMs: () => 0 },
      );
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(await queue.deadLetterCount(), 1);
      assert.equal(await queue.add('j', 1, { id: 'one', attempts: 1 }), 'redriven');
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(calls, 2);
      await queue.close();
    });
  });
});

describe('the retry policy', () => {
  it('should double the delay per attempt up to the cap', () => {
    const policy = resolveRetryPolicy({ backoffMs: 1000 });
    assert.deepEqual(
      [1, 2, 3, 6, 7, 8, 20].map((a) => retryDelayMs(policy, a)),
      [1000, 2000, 4000, 32_000, 60_000, 60_000, 60_000],
    );
  });

  it('should refuse a contradictory policy with a ConfigError', () => {
    assert.throws(() => resolveRetryPolicy({ backoffMs: 500, maxBackoffMs: 100 }), {
      name: 'ConfigError',
      message: 'maxBackoffMs: must be at least backoffMs (500), got 100',
    });
    assert.throws(() => resolveRetryPolicy({ attempts: 0 }), ConfigError);
  });
});
