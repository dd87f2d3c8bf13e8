import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  countBy,
  firstAckAfter,
  formatCounts,
  killBoundMs,
  longestGap,
  priceVerdict,
  replicationPrice,
  repetitions,
  spread,
} from './cluster-stats.js';

describe('cluster bench figures', () => {
  it('longestGap: the largest stretch without an ack, the window edges included', () => {
    assert.equal(longestGap([12, 10, 11, 20, 21], 10, 22), 8);
    assert.equal(longestGap([1, 2, 3], 0, 10), 7, 'from the last ack to the end of the window');
    assert.equal(longestGap([9], 0, 10), 9, 'from the start of the window to the first ack');
    assert.equal(longestGap([], 5, 9), 4, 'no ack at all: the whole window');
    assert.equal(longestGap([-5, 3, 50], 0, 10), 7, 'acks outside the window are ignored');
    assert.equal(longestGap([1], 10, 10), 0);
  });

  it('firstAckAfter: the time from an event to the next ack, undefined without one', () => {
    assert.equal(firstAckAfter([5, 30, 12, 40], 10), 2);
    assert.equal(firstAckAfter([10], 10), 0);
    assert.equal(firstAckAfter([1, 2], 10), undefined);
  });

  it('countBy / formatCounts: most frequent first, ties by name', () => {
    const counts = countBy(['UNAVAILABLE', 'NOT_OWNER', 'UNAVAILABLE', 'ABORTED', 'NOT_OWNER', 'UNAVAILABLE']);
    assert.deepEqual(counts, [
      ['UNAVAILABLE', 3],
      ['NOT_OWNER', 2],
      ['ABORTED', 1],
    ]);
    assert.deepEqual(countBy(['b', 'a']), [
      ['a', 1],
      ['b', 1],
    ]);
    assert.equal(formatCounts(counts), 'UNAVAILABLE 3, NOT_OWNER 2, ABORTED 1');
    assert.equal(formatCounts([]), 'none');
    assert.equal(formatCounts([['UNAVAILABLE', 1234]]), 'UNAVAILABLE 1,234');
  });

  it('repetitions: median (lower middle), min and max; spread: the difference over the mean', () => {
    assert.deepEqual(repetitions([300, 100, 200]), { p50: 200, min: 100, max: 300 });
    assert.deepEqual(repetitions([4, 1]), { p50: 4, min: 1, max: 4 });
    assert.deepEqual(repetitions([]), { p50: 0, min: 0, max: 0 });
    assert.equal(spread(90, 110), 0.2);
    assert.equal(spread(0, 0), 0);
  });

  it('replicationPrice / priceVerdict: met when the broker keeps at least the share of its rate the peer keeps', () => {
    const ours = replicationPrice({ rate: 1000, p50Ms: 1, p99Ms: 4 }, { rate: 500, p50Ms: 2, p99Ms: 10 });
    assert.deepEqual(ours, { rateShare: 0.5, p50Times: 2, p99Times: 2.5 });
    const peer = replicationPrice({ rate: 2000, p50Ms: 1, p99Ms: 2 }, { rate: 1000, p50Ms: 3, p99Ms: 6 });
    assert.equal(priceVerdict(ours, peer), 'met', 'the same share is met (the edge counts)');
    assert.equal(priceVerdict({ ...ours, rateShare: 0.4 }, peer), 'missed');
    assert.equal(priceVerdict({ ...ours, rateShare: 0.4 }, peer, 0.75), 'met');
    const none = { rate: 0, p50Ms: 0, p99Ms: 0 };
    assert.ok(Number.isNaN(replicationPrice(none, { rate: 10, p50Ms: 1, p99Ms: 1 }).rateShare));
    assert.equal(priceVerdict({ ...ours, rateShare: Number.NaN }, peer), 'missed', 'a failed measurement');
  });

  it('killBoundMs: lease + drift + one renewal round', () => {
    assert.equal(killBoundMs(3000, 500), 4500);
  });
});
