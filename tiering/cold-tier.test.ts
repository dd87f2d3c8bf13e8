import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { ConfigError, UnavailableError, type ColdStore } from '../core/index.js';
import { ColdTier } from './index.js';
import { MemoryColdStore } from './test-support/memory-cold-store.js';

const logger = pino({ level: 'silent' });

/** Opens that fail `failures` times (the server is away), then hand out the store. */
function flakyOpen(failures: number, store: ColdStore): { open: () => Promise<ColdStore>; attempts: () => number } {
  let attempts = 0;
  return {
    attempts: () => attempts,
    open: async () => {
      attempts += 1;
      if (attempts <= failures) throw new UnavailableError(`server away (attempt ${attempts})`);
      return store;
    },
  };
}

async function until(what: string, f: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!f()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('ColdTier', () => {
  describe('when the store cannot be reached at start', () => {
    it('should start down, fail calls with UnavailableError, retry in the background and come up', async () => {
      const flaky = flakyOpen(3, new MemoryColdStore());
      const tier = new ColdTier({ open: flaky.open, logger, minRetryMs: 10, maxRetryMs: 40 });
      await tier.firstAttempt;
      const seen: boolean[] = [];
      tier.onChange((up) => seen.push(up));
      assert.equal(tier.up, false);
      await assert.rejects(tier.get('s', 1), (err: unknown) => {
        assert.ok(err instanceof UnavailableError);
        assert.match(err.message, /the cold tier is unreachable \(retrying in the background\): server away/);
        return true;
      });
      await until('the tier to come up', () => tier.up);
      assert.equal(flaky.attempts(), 4);
      assert.deepEqual(seen, [false, true]);
      assert.equal(await tier.get('s', 1), undefined, 'calls reach the store once it is up');
      await tier.close();
    });
  });

  describe('when the open store fails with UnavailableError', () => {
    it('should go down until a probe succeeds', async () => {
      const store = new MemoryColdStore();
      let away = false;
      const get = store.get.bind(store);
      store.get = async (subject, offset) => {
        if (away) throw new UnavailableError('server away');
        return get(subject, offset);
      };
      const tier = new ColdTier({ open: async () => store, logger, minRetryMs: 10, maxRetryMs: 40 });
      await tier.firstAttempt;
      assert.equal(tier.up, true);
      away = true;
      await assert.rejects(tier.get('s', 1), UnavailableError);
      assert.equal(tier.up, false);
      await assert.rejects(tier.readRange('s', 1, 2, { maxRecords: 1, maxBytes: 1 }), UnavailableError);
      away = false;
      await until('the probe to bring it back', () => tier.up);
      await tier.close();
    });
  });

  describe('when the store refuses its settings', () => {
    it('should reject firstAttempt: no retry can fix a ConfigError', async () => {
      const tier = new ColdTier({
        open: () => Promise.reject(new ConfigError('keyspace', 'bad')),
        logger,
      });
      await assert.rejects(tier.firstAttempt, ConfigError);
      await tier.close();
    });
  });
});
