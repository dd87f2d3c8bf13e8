import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeHead } from './codec.js';
import { headKey } from './keys.js';
import { LevelDbLog } from './leveldb-log.js';
import { createDb, type Db } from './storage.js';
import { TEST_LOG_DEFAULTS, body, tempLog } from './test-support/temp-log.js';

describe('LevelDbLog', () => {
  describe('when a batch write fails', () => {
    it('should reject its appends, fail closed, and leave no hole in the ids after reopening', async () => {
      const ctx = await tempLog();
      await ctx.log.close();
      let failWrites = false;
      const real: Db = createDb(ctx.dir);
      // The real database, except that chained batches fail to write while failWrites is set (a full disk, say).
      const db = new Proxy(real, {
        get(target, prop) {
          if (prop !== 'batch') {
            // Bound to the real database: its methods use private fields, which a proxy does not have.
            const value = Reflect.get(target, prop, target) as unknown;
            return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
          }
          return (...args: unknown[]) => {
            if (args.length > 0) return (target.batch as (...a: unknown[]) => unknown)(...args);
            const batch = target.batch();
            return new Proxy(batch, {
              get(b, p) {
                if (p === 'write' && failWrites) return () => Promise.reject(new Error('No space left on device'));
                const value = Reflect.get(b, p, b) as unknown;
                return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(b) : value;
              },
            });
          };
        },
      });
      const log = await LevelDbLog.open({ ...TEST_LOG_DEFAULTS, dataDir: ctx.dir }, db);
      try {
        assert.deepEqual(
          await Promise.all([1, 2].map(() => log.append({ subject: 's', body: body('ok'), expirationSeconds: 0 }))),
          [1, 2],
        );
        failWrites = true;
        const failed = await Promise.allSettled(
          [3, 4, 5].map(() => log.append({ subject: 's', body: body('lost'), expirationSeconds: 0 })),
        );
        for (const result of failed) {
          assert.equal(result.status, 'rejected');
          assert.match(
            String((result as PromiseRejectedResult).reason),
            /UnavailableError: the log failed a write and refuses more: No space left on device/,
          );
        }
        await assert.rejects(log.append({ subject: 't', body: body('later'), expirationSeconds: 0 }), {
          name: 'UnavailableError',
        });
      } finally {
        await log.close();
      }
      const reopened = await ctx.reopen();
      assert.equal((await reopened.subjectInfo('s'))?.lastOffset, 2);
      assert.equal(await reopened.append({ subject: 's', body: body('next'), expirationSeconds: 0 }), 3);
      await ctx.dispose();
    });
  });

  describe('when a seal listener throws', () => {
    it('should keep writing and acknowledging appends', async () => {
      const ctx = await tempLog({ segmentMaxRecords: 2 });
      const warnings: string[] = [];
      const onWarning = (w: Error): void => {
        warnings.push(w.message);
      };
      process.on('warning', onWarning);
      try {
        ctx.log.onSegmentSealed(() => {
          throw new Error('listener bug');
        });
        const ids = await Promise.all(
          Array.from({ length: 5 }, () => ctx.log.append({ subject: 's', body: body('x'), expirationSeconds: 0 })),
        );
        assert.deepEqual(ids, [1, 2, 3, 4, 5]);
        assert.equal(await ctx.log.append({ subject: 's', body: body('y'), expirationSeconds: 0 }), 6);
        await new Promise((resolve) => setImmediate(resolve));
        assert.ok(warnings.includes('listener bug'), `warnings: ${warnings.join(', ')}`);
      } finally {
        process.off('warning', onWarning);
        await ctx.dispose();
      }
    });
  });

  describe('when a large commit is followed at once by a small one on the same subject', () => {
    // Two LevelDB writes in flight together can land in either order (bench/leveldb-write-order.ts: 1-3% of pairs,
    // an event-loop turn apart or not), and both put the subject's head: a later commit must not be in flight beside
    // an earlier one that writes the same rows, or the older head can win.
    it("should leave each subject's newest head in LevelDB, not an older one", async () => {
      const ctx = await tempLog();
      const trials = 150;
      for (let t = 0; t < trials; t += 1) {
        const subject = `s${t}`;
        // Loads the subject's state, so that the appends below go into commits at once.
        await ctx.log.append({ subject, body: body('first'), expirationSeconds: 0 });
        const large = Array.from({ length: 200 }, () =>
          ctx.log.append({ subject, body: Buffer.alloc(1024), expirationSeconds: 0 }),
        );
        await new Promise((resolve) => setImmediate(resolve));
        const small = ctx.log.append({ subject, body: body('last'), expirationSeconds: 0 });
        await Promise.all([...large, small]);
      }
      await ctx.log.close();
      const db = createDb(ctx.dir);
      await db.open();
      try {
        const stale: string[] = [];
        for (let t = 0; t < trials; t += 1) {
          const value = await db.get(headKey(`s${t}`));
          const head = value === undefined ? 0 : decodeHead(value);
          if (head !== 202) stale.push(`s${t}: ${head}`);
        }
        assert.deepEqual(stale, []);
      } finally {
        await db.close();
        await ctx.dispose();
      }
    });
  });

  describe('when closed', () => {
    it('should write every accepted append first and refuse new ones', async () => {
      const ctx = await tempLog();
      const pending = Array.from({ length: 100 }, () =>
        ctx.log.append({ subject: 's', body: body('x'), expirationSeconds: 0 }),
      );
      await ctx.log.close();
      assert.equal((await Promise.all(pending)).length, 100);
      await assert.rejects(ctx.log.append({ subject: 's', body: body('x'), expirationSeconds: 0 }), {
        name: 'UnavailableError',
      });
      const log = await ctx.reopen();
      assert.equal((await log.subjectInfo('s'))?.lastOffset, 100);
      await ctx.dispose();
    });
  });
});
