import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  encodeHistogram,
  latencyHistogram,
  meanBy,
  medianBy,
  mergeHistograms,
  percentilesMs,
  quantileOfSorted,
} from './stats.js';

/** HDR keeps 3 significant digits: a percentile reads back within 0.1% of the exact value (plus one unit). */
function assertClose(actual: number, expected: number, what: string): void {
  const tolerance = expected * 0.001 + 0.001;
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} is not within 0.1% of ${expected}`);
}

describe('latency percentiles', () => {
  describe('when the histogram is empty', () => {
    it('should report every percentile and the max as 0 ms', () => {
      assert.deepEqual(percentilesMs(latencyHistogram()), { p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 });
    });
  });

  describe('when latencies are uniform from 1 µs to 100 ms', () => {
    it('should put p50, p90, p99 and p99.9 at those fractions of the range, in ms', () => {
      const h = latencyHistogram();
      for (let us = 1; us <= 100_000; us++) h.recordValue(us);
      const p = percentilesMs(h);
      assertClose(p.p50Ms, 50, 'p50');
      assertClose(p.p90Ms, 90, 'p90');
      assertClose(p.p99Ms, 99, 'p99');
      assertClose(p.p999Ms, 99.9, 'p99.9');
      assertClose(p.maxMs, 100, 'max');
    });
  });

  describe('when every latency is the same', () => {
    it('should report that value for every percentile', () => {
      const h = latencyHistogram();
      for (let i = 0; i < 1000; i++) h.recordValue(2500);
      const p = percentilesMs(h);
      for (const v of [p.p50Ms, p.p90Ms, p.p99Ms, p.p999Ms, p.maxMs]) assertClose(v, 2.5, 'constant');
    });
  });

  describe('when 1% of latencies are a 1 s stall', () => {
    it('should keep p50 and p90 at the fast value and show the stall from p99 up', () => {
      const h = latencyHistogram();
      for (let i = 0; i < 9900; i++) h.recordValue(1000);
      for (let i = 0; i < 100; i++) h.recordValue(1_000_000);
      const p = percentilesMs(h);
      assertClose(p.p50Ms, 1, 'p50');
      assertClose(p.p90Ms, 1, 'p90');
      // p99 is the 9,900th value of 10,000: the last fast one; p99.9 falls inside the stall.
      assertClose(p.p99Ms, 1, 'p99');
      assertClose(p.p999Ms, 1000, 'p99.9');
      assertClose(p.maxMs, 1000, 'max');
    });
  });

  describe('when workers post their histograms', () => {
    it('should merge them into the percentiles of the union', () => {
      const fast = latencyHistogram();
      const slow = latencyHistogram();
      for (let i = 0; i < 500; i++) fast.recordValue(1000);
      for (let i = 0; i < 500; i++) slow.recordValue(3000);
      const merged = mergeHistograms([encodeHistogram(fast), encodeHistogram(slow)]);
      assert.equal(merged.totalCount, 1000);
      const p = percentilesMs(merged);
      assertClose(p.p50Ms, 1, 'p50');
      assertClose(p.p90Ms, 3, 'p90');
      assertClose(p.maxMs, 3, 'max');
    });
  });
});

describe('quantileOfSorted', () => {
  describe('when the sample is empty', () => {
    it('should return 0', () => {
      assert.equal(quantileOfSorted(new Float64Array(0), 0.5), 0);
    });
  });

  describe('when the sample holds 1 to 100', () => {
    const sample = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    it('should return the element at floor(n·q)', () => {
      assert.equal(quantileOfSorted(sample, 0), 1);
      assert.equal(quantileOfSorted(sample, 0.5), 51);
      assert.equal(quantileOfSorted(sample, 0.99), 100);
    });
    it('should return the last element for q = 1', () => {
      assert.equal(quantileOfSorted(sample, 1), 100);
    });
  });

  describe('when the sample has one element', () => {
    it('should return it for any quantile', () => {
      assert.equal(quantileOfSorted([7], 0), 7);
      assert.equal(quantileOfSorted([7], 0.99), 7);
    });
  });
});

describe('meanBy', () => {
  it('should average the key over the items', () => {
    assert.equal(
      meanBy([{ rate: 3 }, { rate: 1 }, { rate: 2 }], (c) => c.rate),
      2,
    );
  });
  it('should give 0 for no items, not NaN', () => {
    assert.equal(
      meanBy([] as { rate: number }[], (c) => c.rate),
      0,
    );
  });
});

describe('medianBy', () => {
  describe('when the count is odd', () => {
    it('should return the middle item by key', () => {
      assert.deepEqual(
        medianBy([{ rate: 3 }, { rate: 1 }, { rate: 2 }], (c) => c.rate),
        { rate: 2 },
      );
    });
  });

  describe('when the count is even', () => {
    it('should return the lower of the two middle items', () => {
      assert.deepEqual(
        medianBy([{ rate: 4 }, { rate: 1 }, { rate: 3 }, { rate: 2 }], (c) => c.rate),
        { rate: 2 },
      );
    });
  });

  describe('when there is nothing to choose from', () => {
    it('should throw a RangeError', () => {
      assert.throws(() => medianBy([], () => 0), { name: 'RangeError', message: 'medianBy needs at least one item' });
    });
  });
});
