// Issue 10, dependencies fail soft: Redis stopped under a serving broker (real process, real Redis).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redisOutage } from '../test-support/dependency-outages.js';

describe('broker with REDIS_URL (needs Redis)', () => {
  describe('when Redis is stopped', () => {
    it('should compact expired records in process and exit 0 on SIGTERM within the shutdown deadline', async (t) => {
      const r = await redisOutage();
      t.diagnostic(JSON.stringify(r));
      assert.equal(r.firstIdBefore, 1);
      assert.equal(r.firstIdAfter, 11, 'both expired segments were deleted while Redis was down');
      assert.equal(r.exitCode, 0, 'SIGTERM exits 0');
      assert.ok(
        r.shutdownMs < r.shutdownDeadlineMs,
        `shutdown took ${r.shutdownMs} ms (deadline ${r.shutdownDeadlineMs})`,
      );
    });
  });
});
