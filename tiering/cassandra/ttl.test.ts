import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NEVER } from '../../core/index.js';
import { CASSANDRA_4_EXPIRY_LIMIT_MS, MAX_TTL_SECONDS, ttlSeconds } from './ttl.js';

describe('ttlSeconds', () => {
  it('should give no TTL (0) to a record that never expires', () => {
    assert.equal(ttlSeconds(NEVER, 1_000), 0);
  });
  it('should round the time left up to whole seconds', () => {
    assert.equal(ttlSeconds(10_001, 0), 11);
    assert.equal(ttlSeconds(10_000, 0), 10);
    assert.equal(ttlSeconds(1, 0), 1);
  });
  it('should say undefined (skip the row) once the record has expired', () => {
    assert.equal(ttlSeconds(5_000, 5_000), undefined);
    assert.equal(ttlSeconds(4_000, 5_000), undefined);
  });
  it('should cap at the 20 years Cassandra accepts', () => {
    assert.equal(ttlSeconds(100 * 365 * 24 * 3600 * 1000, 0), MAX_TTL_SECONDS);
  });
  it('should cap at an expiry limit (Cassandra 4 storage stops at 2038), but never below one second', () => {
    const now = CASSANDRA_4_EXPIRY_LIMIT_MS - 3600_000;
    assert.equal(ttlSeconds(now + 7200_000, now, CASSANDRA_4_EXPIRY_LIMIT_MS), 3600);
    assert.equal(ttlSeconds(now + 1800_000, now, CASSANDRA_4_EXPIRY_LIMIT_MS), 1800);
    assert.equal(ttlSeconds(now + 7200_000, now + 2 * 3600_000 - 1000, CASSANDRA_4_EXPIRY_LIMIT_MS), 1);
  });
});
