import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../core/index.js';
import { workerShareOf } from './worker-budgets.js';

const config = loadConfig({
  BROKER_MAX_CONNECTIONS: '1001',
  BROKER_MAX_SUBSCRIBERS: '4',
  BROKER_SUBSCRIBER_BUFFER_BYTES: String(8 << 20),
  BROKER_MAX_INFLIGHT_PUBLISH_BYTES: String(96 * 1024),
  BROKER_REPLICATION_JOBS: '3',
  BROKER_MAX_SUBJECTS: '10',
  BROKER_MAX_TOTAL_BYTES: '1000',
  BROKER_TAIL_CACHE_BYTES: '0',
  BROKER_MIN_FREE_BYTES: '4096',
});

describe('workerShareOf', () => {
  describe('when the broker is one process', () => {
    it('should keep every total whole', () => {
      assert.equal(workerShareOf(config, undefined), config);
      assert.equal(workerShareOf(config, { count: 1 }), config);
    });
  });

  describe('when the broker has several workers', () => {
    it("should give each worker 1/N of the edge's totals, rounded up and never below the setting's minimum", () => {
      const share = workerShareOf(config, { count: 2 });
      assert.equal(share.maxConnections, 501);
      assert.equal(share.maxSubscribers, 2);
      assert.equal(share.subscriberBufferBytes, 4 << 20);
      assert.equal(share.maxInflightPublishBytes, 64 * 1024, 'the floor of BROKER_MAX_INFLIGHT_PUBLISH_BYTES');
      assert.equal(share.replicationJobs, 2);
    });

    it('should leave the log totals to the partitioned log, which splits them by the partitions a worker owns', () => {
      const share = workerShareOf(config, { count: 2 });
      assert.equal(share.maxSubjects, 10);
      assert.equal(share.maxTotalBytes, 1000);
    });

    it("should keep the free-space floor whole: it is the one file system's, read by every worker", () => {
      assert.equal(workerShareOf(config, { count: 4 }).minFreeBytes, 4096);
    });
  });

  describe('when the workers are cluster members', () => {
    it('should split the log totals too (a member takes what it is given as its whole), keeping 0 = no limit', () => {
      const share = workerShareOf({ ...config, cluster: 'c' }, { count: 3 });
      assert.equal(share.maxSubjects, 4);
      assert.equal(share.maxTotalBytes, 334);
      assert.equal(share.tailCacheBytes, 0);
    });
  });
});
