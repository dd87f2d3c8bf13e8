import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Pacer } from './pacer.js';

async function timed(work: () => Promise<void>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

describe('Pacer', () => {
  describe('when the event loop is busier than the limit', () => {
    it('should pause before each batch', async () => {
      const pacer = new Pacer({ busyUtilization: 0, pauseMs: 50, windowMs: 10 });
      const spin = Date.now() + 20;
      while (Date.now() < spin); // keep the loop busy for a moment
      assert.ok((await timed(() => pacer.pace())) >= 45);
    });

    it('should not pause while the work is too far behind', async () => {
      const pacer = new Pacer({ busyUtilization: 0, pauseMs: 1000, windowMs: 10, behind: () => true });
      const spin = Date.now() + 20;
      while (Date.now() < spin);
      assert.ok((await timed(() => pacer.pace())) < 500);
    });
  });

  describe('when the event loop is idle', () => {
    it('should pass batches through without pausing', async () => {
      const pacer = new Pacer({ busyUtilization: 0.99, pauseMs: 1000, windowMs: 100 });
      await new Promise((r) => setTimeout(r, 50));
      async function* three(): AsyncIterable<number> {
        yield 1;
        yield 2;
        yield 3;
      }
      const seen: number[] = [];
      const ms = await timed(async () => {
        for await (const n of pacer.paced(three())) seen.push(n);
      });
      assert.deepEqual(seen, [1, 2, 3]);
      assert.ok(ms < 900);
    });
  });
});
