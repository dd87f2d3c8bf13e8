import assert from 'node:assert/strict';
import { setImmediate as turn } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { QuotaExceededError } from '../../core/index.js';
import type { PublishBatchRequest } from '../../proto/gen/broker.js';
import { AccessRules } from './access-rules.js';
import { parseAuthFile } from './auth-file.js';
import { CallerGuard } from './caller-guard.js';
import { Caller } from './caller.js';
import { ASKING_RETRY_MS, LeasedLimit } from './leased-limit.js';
import { QuotaLedger } from './quota-ledger.js';
import { RateLimit, type QuotaLimit } from './token-bucket.js';

function guardOf(limit: QuotaLimit): CallerGuard {
  const file = parseAuthFile('identities:\n  - name: a\n    permissions: { publish: { allow: [">"] } }\n', 'auth.yaml');
  const identity = new AccessRules(file).byName('a');
  assert.ok(identity !== undefined);
  const caller = new Caller(identity, { publish: limit, delivery: undefined }, { denied: () => undefined });
  return new CallerGuard(1024, 1024, caller);
}

const batch = (n: number): PublishBatchRequest => ({
  messages: Array.from({ length: n }, () => ({ subject: 'a.b', body: Buffer.from('x'), expirationSeconds: 0 })),
});

describe('CallerGuard', () => {
  describe('when a PublishBatch is larger than the quota at hand', () => {
    it('should admit it whole once a burst is there (in debt), and spend nothing on a refused one', () => {
      let now = 0;
      const guard = guardOf(new RateLimit({ messagesPerSecond: 20 }, () => now));
      assert.equal(guard.publishBatch(batch(30)).length, 30);
      assert.throws(() => guard.publishBatch(batch(5)), QuotaExceededError);
      assert.throws(() => guard.publishBatch(batch(5)), QuotaExceededError);
      now = 750;
      assert.equal(guard.publishBatch(batch(5)).length, 5);
    });

    it("should admit it after one lease on a worker, not spend the worker's share on every attempt", async () => {
      const ledger = new QuotaLedger();
      const limit = new LeasedLimit(
        'a/publish',
        { messagesPerSecond: 20 },
        {
          ask: async (request) => ledger.lease({ type: 'broker:quota-lease', id: 1, ...request }),
        },
      );
      await limit.prepare();
      const guard = guardOf(limit);
      assert.throws(
        () => guard.publishBatch(batch(15)),
        (err: unknown) => err instanceof QuotaExceededError && err.retryAfterMs === ASKING_RETRY_MS,
      );
      await turn();
      assert.equal(guard.publishBatch(batch(15)).length, 15);
    });
  });
});
