import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UnavailableError } from '../core/index.js';
import { MemoryColdStore } from './test-support/memory-cold-store.js';
import { publish, replicatedLog, text, wipedDiskScenario } from './test-support/replicated-acks-scenario.js';

describe('BROKER_ACKS=replicated (the log writes every group commit to the cold tier before acknowledging it)', () => {
  describe('when the data dir is wiped after the acks', () => {
    it('should serve every acked id with its body from the cold tier: get, range reads and subscribe replays', async () => {
      const cold = new MemoryColdStore();
      await wipedDiskScenario(cold, 35);
      assert.ok(cold.commits.length > 1, 'more than one group commit');
    });
  });

  describe('when the cold tier refuses a commit', () => {
    it('should refuse its appends UNAVAILABLE (none acked), fail closed, and replicate again once recovered', async () => {
      const cold = new MemoryColdStore();
      const ctx = await replicatedLog(cold);
      const append = (i: number): Promise<number> =>
        ctx.log.append({ subject: 's', body: Buffer.from(`s-${i}`), expirationSeconds: 0 });
      try {
        assert.deepEqual([...(await publish(ctx.log, ['s'], 1)).values()], [[1]]);
        cold.failNextCommits = 1;
        const results = await Promise.allSettled([append(1), append(2), append(3)]);
        assert.ok(
          results.every((r) => r.status === 'rejected' && r.reason instanceof UnavailableError),
          'every append of the failed commit refused UNAVAILABLE',
        );
        await assert.rejects(append(4), UnavailableError, 'refused while the log recovers');
        let next: number | undefined;
        for (let i = 0; i < 200 && next === undefined; i++) {
          next = await append(5).catch(() => undefined);
          if (next === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
        }
        assert.ok(next !== undefined, 'appends go on after the recovery');
        const found = await cold.get('s', next);
        assert.equal(found === undefined ? undefined : text(found), 's-5', 'the acked record is in the cold tier');
      } finally {
        await ctx.dispose();
      }
    });
  });
});
