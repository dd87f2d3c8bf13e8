import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LogRecord } from '../../core/index.js';
import { cachedBytes, RecordRing } from './record-ring.js';
import { UpstreamCacheBudget } from './upstream-cache-budget.js';

function record(offset: number, bodyBytes = 10): LogRecord {
  return { subject: 's', offset, body: Buffer.alloc(bodyBytes), publishedAtMs: 0, expirationSeconds: 0 };
}

const ids = (records: LogRecord[]): number[] => records.map((r) => r.offset);

describe('RecordRing', () => {
  describe('when it holds fewer records than its bounds', () => {
    it('should answer for every id from where the stream started', () => {
      const ring = new RecordRing(8, 1 << 20, 5);
      for (const offset of [5, 6, 9, 10]) ring.push(record(offset));
      assert.equal(ring.coveredFrom, 5);
      assert.deepEqual(ids(ring.readFrom(5, 100)), [5, 6, 9, 10]);
      assert.deepEqual(ids(ring.readFrom(7, 100)), [9, 10], 'ids the owner skipped are not there');
      assert.deepEqual(ids(ring.readFrom(6, 2)), [6, 9]);
      assert.deepEqual(ids(ring.readFrom(11, 100)), []);
    });
  });

  describe('when it passes its record bound', () => {
    it('should evict the oldest and answer only from the id after it', () => {
      const ring = new RecordRing(3, 1 << 20, 1);
      for (let offset = 1; offset <= 10; offset++) ring.push(record(offset));
      assert.equal(ring.size, 3);
      assert.equal(ring.coveredFrom, 8);
      assert.deepEqual(ids(ring.readFrom(8, 100)), [8, 9, 10]);
      assert.equal(ring.sizeBytes, 3 * cachedBytes(record(1)));
    });
  });

  describe('when it passes its byte bound', () => {
    it('should evict the oldest but always keep the newest record', () => {
      const ring = new RecordRing(100, 1000, 1);
      ring.push(record(1, 400));
      ring.push(record(2, 400));
      assert.deepEqual(ids(ring.readFrom(1, 100)), [2]);
      ring.push(record(3, 5000));
      assert.deepEqual(ids(ring.readFrom(1, 100)), [3]);
      assert.equal(ring.coveredFrom, 3);
    });
  });

  describe('when a shared budget is spent', () => {
    it('should halve the ring that grew it and account every byte', () => {
      const per = cachedBytes(record(1));
      const budget = new UpstreamCacheBudget(10 * per);
      const a = new RecordRing(100, 1 << 20, 1);
      const b = new RecordRing(100, 1 << 20, 1);
      for (let offset = 1; offset <= 8; offset++) budget.add(a, record(offset));
      for (let offset = 1; offset <= 3; offset++) budget.add(b, record(offset));
      assert.equal(b.size, 1, 'the ring that passed the budget lost half its records (rounded up)');
      assert.equal(a.size, 8);
      assert.equal(budget.usedBytes, a.sizeBytes + b.sizeBytes);
      budget.release(a);
      budget.release(b);
      assert.equal(budget.usedBytes, 0);
    });
  });
});
