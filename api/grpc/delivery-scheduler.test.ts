// The delivery scheduler against subscriptions that always have more to write: it must share the loop turn by turn
// (round-robin), and leave each turn's I/O phase to run between its slices however much delivery work waits.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DeliveryScheduler, type PumpStop, type Pumpable } from './delivery-scheduler.js';

/** A subscription with `records` to write, each costing `costMs` of CPU (a busy loop, as framing a message is). */
class Busy implements Pumpable {
  written = 0;
  constructor(
    private readonly records: number,
    private readonly costMs = 0,
    private readonly pumps: Busy[] = [],
  ) {}

  pump(max: number): PumpStop {
    this.pumps.push(this);
    for (let n = 0; n < max; n++) {
      if (this.written === this.records) return 'done';
      const until = performance.now() + this.costMs;
      while (performance.now() < until);
      this.written += 1;
    }
    return this.written === this.records ? 'done' : 'more';
  }
}

describe('DeliveryScheduler', () => {
  it('should give each ready subscription its quantum in turn, so none waits for another to finish', async () => {
    const scheduler = new DeliveryScheduler(1_000, 10);
    const pumps: Busy[] = [];
    const big = new Busy(1_000, 0, pumps);
    const small = new Busy(20, 0, pumps);
    const stops = await Promise.all([scheduler.run(big), scheduler.run(small)]);
    assert.deepEqual(stops, ['done', 'done']);
    assert.equal(big.written, 1_000);
    // big, small, big, small (done), then big alone.
    assert.deepEqual(pumps.slice(0, 5), [big, small, big, small, big]);
  });

  it('should let I/O callbacks run between slices while deliveries keep it busy', async () => {
    const scheduler = new DeliveryScheduler(5, 4);
    // 20 subscriptions x 25 records x 0.1 ms: 50 ms of delivery work, in slices of 5 ms.
    const subs = Array.from({ length: 20 }, () => new Busy(25, 0.1));
    const started = performance.now();
    const all = Promise.all(subs.map((s) => scheduler.run(s)));
    // A file read completes in the loop's poll phase: it must not wait for all the delivery work.
    await readFile(fileURLToPath(import.meta.url));
    const readAfter = performance.now() - started;
    const written = subs.reduce((a, s) => a + s.written, 0);
    await all;
    const total = performance.now() - started;
    assert.ok(written < 500, `the read came back after ${written} of 500 deliveries`);
    assert.ok(readAfter < total, `read after ${readAfter.toFixed(0)} ms of ${total.toFixed(0)} ms`);
  });

  it('should hand back a pump that throws as the rejection of that subscription only', async () => {
    const scheduler = new DeliveryScheduler();
    const failing: Pumpable = {
      pump() {
        throw new Error('stream broke');
      },
    };
    const ok = new Busy(3);
    const [failed, done] = await Promise.allSettled([scheduler.run(failing), scheduler.run(ok)]);
    assert.equal(failed.status, 'rejected');
    assert.deepEqual(done, { status: 'fulfilled', value: 'done' });
  });
});
