import assert from 'node:assert/strict';
import cassandra from 'cassandra-driver';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { ConfigError, InvariantError, UnavailableError, type LogRecord, type SegmentInfo } from '../../core/index.js';
import {
  randomKeyspace,
  startCql,
  stopCql,
  testCqlContactPoints,
  testCqlLocalDc,
} from '../../test-support/services.js';
import {
  openCassandraColdStore,
  type CassandraColdStore,
  type CassandraColdStoreOptions,
} from './cassandra-cold-store.js';
import { CASSANDRA_4_EXPIRY_LIMIT_MS, MAX_TTL_SECONDS } from './ttl.js';
import { coldStoreContract, inBatches, sealedSegment } from '../test-support/cold-store-contract.js';

const HOUR = 3_600_000;
/** Seconds of slack between the store's clock and the TTL the server reports. */
const TTL_TOLERANCE = 10;

/** A sealed segment of `count` records from `base`; odd offsets expire after an hour, even ones follow retention. */
function segment(
  subject: string,
  base: number,
  count: number,
  publishedAtMs: number,
  bodyBytes?: number,
): { info: SegmentInfo; records: LogRecord[] } {
  const expirationSeconds = (offset: number): number => (offset % 2 === 1 ? 3600 : 0);
  return sealedSegment(subject, base, count, {
    publishedAtMs,
    expirationSeconds,
    ...(bodyBytes === undefined ? {} : { bodyBytes }),
  });
}

const contractOptions = (keyspace: string): CassandraColdStoreOptions => ({
  contactPoints: testCqlContactPoints(),
  localDataCenter: testCqlLocalDc(),
  keyspace,
  replicationFactor: 1,
  consistency: 'localQuorum',
  concurrency: 16,
});

// What the tiered reader relies on, as the memory store of the other tests must do it too (memory-cold-store.test.ts).
coldStoreContract('CassandraColdStore (needs the CQL server)', async () => {
  const keyspace = randomKeyspace('contract');
  const store = await openCassandraColdStore(contractOptions(keyspace));
  return {
    store,
    async dispose() {
      await store.close();
      const admin = new cassandra.Client({ contactPoints: testCqlContactPoints(), localDataCenter: testCqlLocalDc() });
      await admin.connect();
      await admin.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
      await admin.shutdown();
    },
  };
});

describe('CassandraColdStore (needs the CQL server)', () => {
  const keyspace = randomKeyspace('coldstore');
  const registry = new Registry();
  const now = Date.now();
  let store: CassandraColdStore;
  let admin: cassandra.Client;
  const options = (extra: Partial<CassandraColdStoreOptions> = {}): CassandraColdStoreOptions => ({
    contactPoints: testCqlContactPoints(),
    localDataCenter: testCqlLocalDc(),
    keyspace,
    replicationFactor: 1,
    consistency: 'localQuorum',
    concurrency: 16,
    now: () => now,
    registry,
    ...extra,
  });
  const cql = (query: string, params: unknown[]) => admin.execute(query, params, { prepare: true });
  const rowTtls = async (subject: string, base: number): Promise<Map<number, number | null>> => {
    const rs = await cql(
      `SELECT offset, TTL(body) AS ttl FROM ${keyspace}.records WHERE subject = ? AND segment_base = ?`,
      [subject, base],
    );
    return new Map(rs.rows.map((r) => [Number(r.get('offset')), r.get('ttl') as number | null]));
  };
  const segmentRows = async (subject: string) =>
    (
      await cql(
        `SELECT base_offset, last_offset, count, bytes, TTL(count) AS ttl FROM ${keyspace}.segments WHERE subject = ?`,
        [subject],
      )
    ).rows.map((r) => ({
      base: Number(r.get('base_offset')),
      last: Number(r.get('last_offset')),
      count: Number(r.get('count')),
      bytes: Number(r.get('bytes')),
      ttl: r.get('ttl') as number | null,
    }));
  const near = (actual: number | null | undefined, expected: number, what: string) =>
    assert.ok(
      actual !== null && actual !== undefined && Math.abs(actual - expected) <= TTL_TOLERANCE,
      `${what}: TTL ${actual} vs ${expected}`,
    );

  before(async () => {
    store = await openCassandraColdStore(options());
    admin = new cassandra.Client({ contactPoints: testCqlContactPoints(), localDataCenter: testCqlLocalDc() });
    await admin.connect();
  });
  after(async () => {
    await store.close();
    await admin.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
    await admin.shutdown();
  });

  describe('when opened', () => {
    it('should create the keyspace and tables idempotently (a second open on the same keyspace and registry works)', async () => {
      const second = await openCassandraColdStore(options());
      await second.close();
      await second.close();
      const tables = await cql('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?', [keyspace]);
      assert.deepEqual(tables.rows.map((r) => r.get('table_name') as string).sort(), ['records', 'segments']);
    });

    it('should refuse bad options with a ConfigError before connecting', async () => {
      await assert.rejects(
        openCassandraColdStore(options({ keyspace: 'Bad-Name' })),
        (err: unknown) => err instanceof ConfigError && err.variable === 'keyspace',
      );
      await assert.rejects(
        openCassandraColdStore(options({ concurrency: 0 })),
        (err: unknown) => err instanceof ConfigError && err.variable === 'concurrency',
      );
      await assert.rejects(
        openCassandraColdStore(options({ contactPoints: [] })),
        (err: unknown) => err instanceof ConfigError && err.variable === 'contactPoints',
      );
    });
  });

  describe('when a segment is written', () => {
    it('should store every row with the TTL its record has left, and the segment row with the latest', async () => {
      const seg = segment('orders', 1, 100, now - HOUR / 2);
      const before = (await registry.getSingleMetricAsString('broker_scylla_rows_written_total')).match(
        / (\d+)$/m,
      )?.[1];
      assert.deepEqual(await store.writeSegment(seg.info, inBatches(seg.records), 2 * HOUR), {
        rows: 100,
        bytes: seg.info.bytes,
      });
      const ttls = await rowTtls('orders', 1);
      assert.equal(ttls.size, 100);
      for (const [offset, ttl] of ttls) near(ttl, offset % 2 === 1 ? 1800 : 5400, `offset ${offset}`);
      const [row, ...others] = await segmentRows('orders');
      assert.deepEqual(others, []);
      assert.deepEqual(
        { ...row, ttl: undefined },
        { base: 1, last: 100, count: 100, bytes: seg.info.bytes, ttl: undefined },
      );
      near(row?.ttl, 5400, 'segment row');
      const after = (await registry.getSingleMetricAsString('broker_scylla_rows_written_total')).match(/ (\d+)$/m)?.[1];
      assert.equal(Number(after) - Number(before ?? 0), 100);
    });

    it('should write rows that never expire without a TTL, and cap far expiries at 20 years', async () => {
      const forever = segment('forever', 1, 4, now);
      await store.writeSegment(forever.info, inBatches(forever.records), 0);
      const ttls = await rowTtls('forever', 1);
      assert.deepEqual([ttls.get(2), ttls.get(4)], [null, null]);
      near(ttls.get(1), 3600, 'explicit expiry');
      assert.equal((await segmentRows('forever'))[0]?.ttl, null);

      const far = segment('far', 2, 1, now);
      await store.writeSegment(far.info, inBatches(far.records), 100 * 365 * 24 * HOUR);
      near(
        (await rowTtls('far', 2)).get(2),
        Math.min(MAX_TTL_SECONDS, Math.floor((CASSANDRA_4_EXPIRY_LIMIT_MS - now) / 1000)),
        'capped',
      );
    });

    it('should skip records that have already expired, and write no segment row when none is left', async () => {
      const gone = segment('expired', 1, 10, now - 3 * HOUR);
      assert.deepEqual(await store.writeSegment(gone.info, inBatches(gone.records), 2 * HOUR), { rows: 0, bytes: 0 });
      assert.equal((await rowTtls('expired', 1)).size, 0);
      assert.deepEqual(await segmentRows('expired'), []);

      const half = segment('half', 1, 10, now - 90 * 60_000);
      const written = await store.writeSegment(half.info, inBatches(half.records), 2 * HOUR);
      assert.deepEqual([...(await rowTtls('half', 1)).keys()], [2, 4, 6, 8, 10]);
      assert.equal(written.rows, 5);
      assert.equal((await segmentRows('half'))[0]?.count, 5);
    });

    it('should refuse a record that is not in the segment, and write no segment row', async () => {
      const seg = segment('stray', 1, 10, now);
      const last = seg.records.at(-1);
      assert.ok(last !== undefined);
      const stray = { ...last, offset: 11 };
      await assert.rejects(
        store.writeSegment(seg.info, inBatches([...seg.records, stray]), 0),
        (err: unknown) => err instanceof InvariantError,
      );
      assert.deepEqual(await segmentRows('stray'), []);
    });
  });

  describe('when reading', () => {
    before(async () => {
      // Segments 1-20, 21-40, 61-80: 41-60 was never copied (a gap).
      for (const base of [1, 21, 61]) {
        const seg = segment('multi', base, 20, now, 100);
        await store.writeSegment(seg.info, inBatches(seg.records), 0);
      }
    });

    // get/readRange over these segments, their bounds and limits are the contract's (cold-store-contract.ts).
    it('should find the complete segment holding an offset through the segments table, and none in the gap', async () => {
      assert.deepEqual(await store.segmentContaining('multi', 30), {
        subject: 'multi',
        baseOffset: 21,
        lastOffset: 40,
        count: 20,
        bytes: 2000,
      });
      assert.equal(await store.segmentContaining('multi', 50), undefined);
      assert.equal(await store.segmentContaining('multi', 81), undefined);
      const record = await store.get('multi', 25);
      assert.deepEqual(
        { ...record, body: undefined },
        { subject: 'multi', offset: 25, publishedAtMs: now, expirationSeconds: 3600, body: undefined },
      );
      assert.deepEqual(record?.body, Buffer.alloc(100, 4));
    });

    it('should page through a segment larger than one fetch page', async () => {
      const big = segment('big', 1, 1200, now, 10);
      await store.writeSegment(big.info, inBatches(big.records, 300), 0);
      const all = await store.readRange('big', 1, 1201, { maxRecords: 5000, maxBytes: 1 << 30 });
      assert.deepEqual(
        all.map((r) => r.offset),
        Array.from({ length: 1200 }, (_, i) => i + 1),
      );
    });
  });

  describe('when the CQL server stops in the middle of a write', () => {
    it('should reject with a retriable error and no segment row, and a rerun after the restart should store every row exactly once', async () => {
      // Only clients that are open during the outage see it; the driver can leave a timer behind when it is shut down
      // in the middle of reconnecting, so the others close first and the one writing is closed once it is back.
      await store.close();
      await admin.shutdown();
      const writing = await openCassandraColdStore(options());
      const seg = segment('outage', 1, 2000, now);
      let sent = 0;
      async function* stopping(): AsyncIterable<LogRecord[]> {
        for (let i = 0; i < seg.records.length; i += 100) {
          if (sent === 500) await stopCql();
          sent += 100;
          yield seg.records.slice(i, i + 100);
        }
      }
      try {
        await assert.rejects(
          writing.writeSegment(seg.info, stopping(), 0),
          (err: unknown) => err instanceof UnavailableError && err.retriable,
        );
      } finally {
        await startCql();
        admin = new cassandra.Client({ contactPoints: testCqlContactPoints(), localDataCenter: testCqlLocalDc() });
        await admin.connect();
      }
      // The store that saw the outage serves again by itself (bounded wait for its reconnection).
      const deadline = Date.now() + 60_000;
      for (;;) {
        try {
          await writing.segmentContaining('outage', 1);
          break;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      }
      await writing.close();
      const again = await openCassandraColdStore(options());
      try {
        assert.equal(await again.segmentContaining('outage', 1), undefined, 'a failed copy leaves no segment row');
        assert.deepEqual(await again.writeSegment(seg.info, inBatches(seg.records, 200), 0), {
          rows: 2000,
          bytes: seg.info.bytes,
        });
        const all = await again.readRange('outage', 1, 2001, { maxRecords: 5000, maxBytes: 1 << 30 });
        assert.deepEqual(
          all.map((r) => r.offset),
          Array.from({ length: 2000 }, (_, i) => i + 1),
        );
        const count = await cql(
          `SELECT COUNT(*) AS n FROM ${keyspace}.records WHERE subject = ? AND segment_base = ?`,
          ['outage', 1],
        );
        assert.equal(Number(count.first().get('n')), 2000);
      } finally {
        await again.close();
      }
    });
  });
});
