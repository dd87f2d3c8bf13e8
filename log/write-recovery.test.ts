import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LogObserver } from '../core/index.js';
import { LevelDbLog } from './leveldb-log.js';
import { createDb, type Db } from './storage.js';
import { TEST_LOG_DEFAULTS, body, tempLog } from './test-support/temp-log.js';

type Call = (...args: unknown[]) => unknown;
/** How a chained batch write behaves: as LevelDB does, failing before writing, or failing after writing. */
type WriteMode = 'ok' | 'fail' | 'write-then-fail';

/** The real database, except that chained batch writes follow `mode()` (a full disk, say); counts reopenings. */
function faultyDb(dir: string, mode: () => WriteMode): { db: Db; opens: () => number } {
  const real: Db = createDb(dir);
  let opens = 0;
  const bound = (target: object, prop: string | symbol): unknown => {
    // Bound to the real object: its methods use private fields, which a proxy does not have.
    const value = Reflect.get(target, prop, target) as unknown;
    return typeof value === 'function' ? (value as Call).bind(target) : value;
  };
  const db = new Proxy(real, {
    get(target, prop) {
      if (prop === 'open') {
        return (...args: unknown[]) => {
          opens += 1;
          return (target.open as Call)(...args);
        };
      }
      if (prop !== 'batch') return bound(target, prop);
      return (...args: unknown[]) => {
        if (args.length > 0) return (target.batch as Call)(...args);
        const batch = target.batch();
        return new Proxy(batch, {
          get(b, p) {
            if (p !== 'write' || mode() === 'ok') return bound(b, p);
            const landed = mode() === 'write-then-fail' ? batch.write({ sync: true }) : Promise.resolve();
            return () => landed.then(() => Promise.reject(new Error('IO error: No space left on device')));
          },
        });
      };
    },
  });
  return { db, opens: () => opens };
}

/** An observer that records the failure events. */
function watcher(): LogObserver & { failures: Error[]; recoveries: number; recovered(): Promise<void> } {
  const waiting: Array<() => void> = [];
  const w = {
    failures: [] as Error[],
    recoveries: 0,
    batchWritten: () => undefined,
    appendAcknowledged: () => undefined,
    writeFailed: (err: Error) => void w.failures.push(err),
    writeRecovered: () => {
      w.recoveries += 1;
      for (const done of waiting.splice(0)) done();
    },
    recovered: () => new Promise<void>((resolve) => waiting.push(resolve)),
  };
  return w;
}

const append = (log: LevelDbLog, text: string): Promise<number> =>
  log.append({ subject: 's', body: body(text), expirationSeconds: 0 });

async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('LevelDbLog write recovery', () => {
  describe('when batch writes fail for a while', () => {
    it('should report it, keep its figures, end cursors, retry with a reopen and serve again without a restart', async () => {
      const ctx = await tempLog();
      await ctx.log.close();
      let mode: WriteMode = 'ok';
      const { db, opens } = faultyDb(ctx.dir, () => mode);
      const observer = watcher();
      const log = await LevelDbLog.open(
        { ...TEST_LOG_DEFAULTS, dataDir: ctx.dir, observer, writeRetry: { firstMs: 20, maxMs: 80 } },
        db,
      );
      try {
        assert.deepEqual(await Promise.all(['a', 'b'].map((t) => append(log, t))), [1, 2]);
        const cursor = await log.tail('s', 1);
        assert.equal((await cursor.next()).length, 2);

        mode = 'fail';
        const failed = await Promise.allSettled(['x', 'y', 'z'].map((t) => append(log, t)));
        for (const result of failed) {
          assert.equal(result.status, 'rejected');
          assert.equal((result as PromiseRejectedResult).reason.name, 'UnavailableError');
        }
        assert.match(observer.failures[0]?.message ?? '', /No space left on device/);
        await assert.rejects(cursor.next(), { name: 'UnavailableError' });
        await assert.rejects(append(log, 'refused'), { name: 'UnavailableError' });
        const during = await log.subjectInfo('s');
        assert.equal(during?.lastOffset, 2);
        assert.equal(during?.count, 2, 'the figures count the retained records while the log is failing');

        // Attempts keep failing (each one reported) while the writes do.
        // Polled, not a fixed sleep: retries run on timers that a busy machine delays.
        const deadline = Date.now() + 5_000;
        while (observer.failures.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        assert.ok(observer.failures.length >= 3, `failures reported: ${observer.failures.length}`);
        assert.equal(observer.recoveries, 0);

        mode = 'ok';
        await within(2_000, 'recovery', observer.recovered());
        assert.ok(opens() >= 3, `the database was reopened (${opens()} opens)`);
        // The rejected ids 3..5 may stay skipped (their high-water marks may have landed): never below them.
        const next = await append(log, 'c');
        assert.ok(next >= 3 && next <= 6, `the ids continue after the last acknowledged one: ${next}`);
        assert.equal((await log.subjectInfo('s'))?.count, 3);
        const got = await Promise.all([1, 2, next].map((id) => log.get('s', id)));
        assert.deepEqual(
          got.map((r) => (r.kind === 'record' ? r.record.body.toString() : r.kind)),
          ['a', 'b', 'c'],
        );
        const resumed = await log.tail('s', next);
        assert.deepEqual(
          (await resumed.next()).map((r) => r.offset),
          [next],
        );
        resumed.close();
      } finally {
        await log.close();
      }
      const reopened = await ctx.reopen();
      assert.equal((await reopened.subjectInfo('s'))?.count, 3);
      await ctx.dispose();
    });
  });

  describe('when a failed batch was written after all', () => {
    it('should rebuild the offsets from disk and continue after what landed', async () => {
      const ctx = await tempLog();
      await ctx.log.close();
      let mode: WriteMode = 'ok';
      const { db } = faultyDb(ctx.dir, () => mode);
      const observer = watcher();
      const log = await LevelDbLog.open(
        { ...TEST_LOG_DEFAULTS, dataDir: ctx.dir, observer, writeRetry: { firstMs: 20, maxMs: 80 } },
        db,
      );
      try {
        assert.equal(await append(log, 'a'), 1);
        mode = 'write-then-fail';
        const recovered = observer.recovered();
        const failed = await Promise.allSettled(['x', 'y'].map((t) => append(log, t)));
        assert.deepEqual(
          failed.map((r) => r.status),
          ['rejected', 'rejected'],
        );
        mode = 'ok';
        await within(2_000, 'recovery', recovered);
        assert.equal(await append(log, 'b'), 4, 'ids 2 and 3 landed: they are never handed out again');
        const info = await log.subjectInfo('s');
        assert.equal(info?.lastOffset, 4);
        assert.equal(info?.count, 4);
      } finally {
        await log.close();
      }
      await ctx.dispose();
    });
  });

  describe('when closed while failing', () => {
    it('should stop retrying and close', async () => {
      const ctx = await tempLog();
      await ctx.log.close();
      const { db, opens } = faultyDb(ctx.dir, () => 'fail');
      const log = await LevelDbLog.open(
        { ...TEST_LOG_DEFAULTS, dataDir: ctx.dir, writeRetry: { firstMs: 20, maxMs: 20 } },
        db,
      );
      await assert.rejects(append(log, 'x'), { name: 'UnavailableError' });
      await new Promise((resolve) => setTimeout(resolve, 100));
      await log.close();
      const after = opens();
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(opens(), after, 'no attempt after close');
      await ctx.dispose();
    });
  });
});
