import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RateLimit, TokenBucket } from './token-bucket.js';

describe('TokenBucket', () => {
  it('should admit a burst of one second, then refill at the rate', () => {
    let now = 0;
    const bucket = new TokenBucket(10, () => now);
    for (let i = 0; i < 10; i++) {
      assert.equal(bucket.waitFor(1), 0);
      bucket.take(1);
    }
    assert.equal(bucket.waitFor(1), 100);
    now = 100;
    assert.equal(bucket.waitFor(1), 0);
  });

  it('should admit a take above the burst once full, and leave the bucket in debt', () => {
    let now = 0;
    const bucket = new TokenBucket(100, () => now);
    assert.equal(bucket.waitFor(250), 0);
    bucket.take(250);
    assert.equal(bucket.waitFor(1), 1510);
    now = 1510;
    assert.equal(bucket.waitFor(1), 0);
  });
});

describe('RateLimit', () => {
  it('should take from both buckets only when both fit', () => {
    let now = 0;
    const limit = new RateLimit({ messagesPerSecond: 100, bytesPerSecond: 1000 }, () => now);
    assert.equal(limit.tryTake(1, 1000), 0);
    const wait = limit.tryTake(1, 500);
    assert.equal(wait, 500);
    now = 500;
    assert.equal(limit.tryTake(1, 500), 0);
  });
});
