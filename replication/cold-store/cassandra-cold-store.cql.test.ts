import assert from 'node:assert/strict';
import cassandra from 'cassandra-driver';
import { after, before, describe, it } from 'node:test';
import type { LogRecord, SegmentInfo } from '../../core/index.js';
import { randomName, startCql, stopCql, testCqlContactPoints, testCqlLocalDc } from '../test-support/services.js';
import { openCassandraColdStore, type CassandraColdStore } from './cassandra-cold-store.js';

const HOUR = 3_600_000;

function segment(subject: string, base: number, count: number, publishedAtMs: number): { info: SegmentInfo; records: LogRecord[] } {
  const records = Array.from({ length: count }, (_, i) => ({
    subject,
    offset: base + i,
    body: Buffer.from(`${subject}-${base + i}`),
    publishedAtMs,
    expirationSeconds: i % 2 === 0 ? 0 : 3600,
  }));
  return {
    records,
    info: {
      subject, baseOffset: base, lastOffset: base + count - 1, count, bytes: records.reduce((n, r) => n + r.body.length, 0),
      firstPublishMs: publishedAtMs, lastPublishMs: publishedAtMs, maxExplicitExpiryMs: publishedAtMs + HOUR, lastRetentionPublishMs: publishedAtMs,
      sealed: true, replicated: false,
    },
  };
}

async function* batches(records: LogRecord[], size = 40): AsyncIterable<LogRecord[]> {
  for (let i = 0; i < records.length; i += size) yield records.slice(i, i + size);
}

describe('CassandraColdStore (needs the CQL server)', () => {
  const keyspace = randomName('coldtest');
  let store: CassandraColdStore;
  let admin: cassandra.Client;
  const now = Date.now();
  const options = () => ({ contactPoints: testCqlContactPoints(), localDataCenter: testCqlLocalDc(), keyspace, replicationFactor: 1, consistency: 'localQuorum' as const, concurrency: 16, now: () => now });

  before(async () => {
    store = await openCassandraColdStore(options());
    admin = new cassandra.Client({ contactPoints: testCqlContactPoints(), localDataCenter: testCqlLocalDc() });
    await admin.connect();
  });
  after(async () => {
    // The outage test restarted the server under these clients: drop the keyspace through a fresh one.
    await store.close();
    await admin.shutdown();
    const dropper = new cassandra.Client({ contactPoints: testCqlContactPoints(), localDataCenter: testCqlLocalDc() });
    try {
      await dropper.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
    } finally {
      await dropper.shutdown();
    }
  });

  describe('when a segment is written', () => {
    it('should store every row with the TTL its record has left, and the segment row last', async () => {
      const seg = segment('orders', 1, 100, now - HOUR / 2);
      assert.deepEqual(await store.writeSegment(seg.info, batches(seg.records), 2 * HOUR), { rows: 100, bytes: seg.info.bytes });
      const rows = await admin.execute(`SELECT id, TTL(body) AS ttl, expiration_seconds FROM ${keyspace}.records WHERE subject = ? AND segment_base = ?`, ['orders', 1], { prepare: true });
      assert.equal(rows.rowLength, 100);
      for (const row of rows.rows) {
        const expected = row.get('expiration_seconds') === 0 ? 1.5 * 3600 : 0.5 * 3600;
        assert.ok(Math.abs(Number(row.get('ttl')) - expected) <= 5, `ttl ${row.get('ttl')} vs ${expected}`);
      }
      const segs = await admin.execute(`SELECT base_offset, last_offset, record_count FROM ${keyspace}.segments WHERE subject = ?`, ['orders'], { prepare: true });
      assert.deepEqual(segs.rows.map((r) => [Number(r.get('base_offset')), Number(r.get('last_offset')), Number(r.get('record_count'))]), [[1, 100, 100]]);
    });

    it('should skip records that have already expired', async () => {
      const seg = segment('expired', 1, 10, now - 3 * HOUR);
      const written = await store.writeSegment(seg.info, batches(seg.records), 2 * HOUR);
      assert.equal(written.rows, 0);
    });

    it('should write the same rows again on a retry, without duplicates', async () => {
      const seg = segment('retry', 1, 50, now);
      await store.writeSegment(seg.info, batches(seg.records), 0);
      await store.writeSegment(seg.info, batches(seg.records), 0);
      const count = await admin.execute(`SELECT COUNT(*) AS n FROM ${keyspace}.records WHERE subject = ? AND segment_base = ?`, ['retry', 1], { prepare: true });
      assert.equal(Number(count.first().get('n')), 50);
    });
  });

  describe('when reading', () => {
    it('should get offsets across segments and read ranges within limits', async () => {
      for (const base of [1, 21, 41]) {
        const seg = segment('multi', base, 20, now);
        await store.writeSegment(seg.info, batches(seg.records), 0);
      }
      assert.equal((await store.get('multi', 25))?.body.toString(), 'multi-25');
      assert.equal((await store.get('multi', 1))?.offset, 1);
      assert.equal(await store.get('multi', 61), undefined);
      assert.equal(await store.get('nobody', 1), undefined);
      const range = await store.readRange('multi', 15, 45, { maxRecords: 1000, maxBytes: 1 << 20 });
      assert.deepEqual(range.map((r) => r.offset), Array.from({ length: 30 }, (_, i) => i + 15));
      const limited = await store.readRange('multi', 15, 60, { maxRecords: 8, maxBytes: 1 << 20 });
      assert.deepEqual(limited.map((r) => r.offset), [15, 16, 17, 18, 19, 20, 21, 22]);
    });
  });

  describe('when the CQL server stops in the middle of a write', () => {
    it('should reject, and a retry after it returns should store every row exactly once', async () => {
      const seg = segment('outage', 1, 2000, now);
      let sent = 0;
      async function* slow(): AsyncIterable<LogRecord[]> {
        for (let i = 0; i < seg.records.length; i += 100) {
          if (sent === 500) await stopCql();
          sent += 100;
          yield seg.records.slice(i, i + 100);
        }
      }
      try {
        await assert.rejects(store.writeSegment(seg.info, slow(), 0));
      } finally {
        await startCql();
      }
      const again = await openCassandraColdStore(options());
      try {
        await again.writeSegment(seg.info, batches(seg.records, 200), 0);
        const count = await again.readRange('outage', 1, 2001, { maxRecords: 5000, maxBytes: 1 << 30 });
        assert.deepEqual(count.map((r) => r.offset), Array.from({ length: 2000 }, (_, i) => i + 1));
      } finally {
        await again.close();
      }
    });
  });
});
