import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import cassandra from 'cassandra-driver';
import { UnavailableError, type ColdStore, type Log, type LogRecord, type SegmentRef } from '../core/index.js';
import { tempLog } from '../log/test-support/temp-log.js';
import { randomKeyspace, startCql, stopCql, testCqlContactPoints, testCqlLocalDc } from '../test-support/services.js';
import type { CassandraColdStore } from './cassandra/index.js';
import { openTestColdStore } from './test-support/cql-cold-store.js';
import { createTieredReader, Replicator } from './index.js';

const DAY_MS = 24 * 3_600_000;

async function replicateOwed(replicator: Replicator): Promise<number> {
  let copied = 0;
  for await (const ref of replicator.owed()) if ((await replicator.replicate(ref)) !== 'skipped') copied += 1;
  return copied;
}

const bases = async (log: Log, subject: string): Promise<[number, boolean][]> =>
  (await log.segments(subject)).map((s) => [s.baseOffset, s.replicated]);

// The job runner's scheduling and retries around these copies are jobs/'s tests; these are the copies themselves.
describe('replication to the cold tier (needs the CQL server)', () => {
  const keyspace = randomKeyspace('tiering');
  let cold: CassandraColdStore;
  let cql: cassandra.Client;
  const open = (): Promise<CassandraColdStore> => openTestColdStore(keyspace);
  const connectAdmin = async (): Promise<cassandra.Client> => {
    const client = new cassandra.Client({ contactPoints: testCqlContactPoints(), localDataCenter: testCqlLocalDc() });
    await client.connect();
    return client;
  };
  before(async () => {
    cold = await open();
    cql = await connectAdmin();
  });
  after(async () => {
    await cql.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
    await cql.shutdown();
    await cold.close();
  });

  describe('when a sealed segment is replicated', () => {
    it('should write every row once with the TTL of its record, then mark the segment replicated', async () => {
      const ctx = await tempLog({ segmentMaxRecords: 100 });
      const replicator = new Replicator(ctx.log, cold, DAY_MS);
      try {
        for (let i = 1; i <= 101; i++)
          await ctx.log.append({
            subject: 'ttl',
            body: Buffer.from(`m${i}`),
            expirationSeconds: i % 2 === 0 ? 600 : 0,
          });
        assert.equal(await replicateOwed(replicator), 1);
        assert.deepEqual(await bases(ctx.log, 'ttl'), [
          [1, true],
          [101, false],
        ]);
        const rs = await cql.execute(
          `SELECT offset, TTL(body) AS ttl FROM ${keyspace}.records WHERE subject = ? AND segment_base = ?`,
          ['ttl', 1],
          { prepare: true },
        );
        const ttls = new Map(rs.rows.map((r) => [Number(r.get('offset')), r.get('ttl') as number]));
        assert.deepEqual(
          [...ttls.keys()].sort((a, b) => a - b),
          Array.from({ length: 100 }, (_, i) => i + 1),
          'every row, once',
        );
        for (const [offset, ttl] of ttls) {
          const expected = offset % 2 === 0 ? 600 : DAY_MS / 1000;
          assert.ok(
            ttl <= expected && ttl >= expected - 60,
            `offset ${offset}: TTL ${ttl}, expected about ${expected}`,
          );
        }
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when replicated segments are dropped locally', () => {
    it('should serve the removed offsets from the cold tier through the tiered reader', async () => {
      const ctx = await tempLog({ segmentMaxRecords: 100 });
      const replicator = new Replicator(ctx.log, cold, 0);
      const reader = createTieredReader(ctx.log, cold);
      try {
        for (let i = 1; i <= 350; i++)
          await ctx.log.append({ subject: 'tiered', body: Buffer.from(`m${i}`), expirationSeconds: 0 });
        assert.equal(await replicateOwed(replicator), 3);
        // As local retention does: only a prefix of replicated segments leaves the disk.
        for (const baseOffset of [1, 101, 201]) await ctx.log.deleteSegment({ subject: 'tiered', baseOffset });
        assert.equal((await ctx.log.subjectInfo('tiered'))?.firstOffset, 301);
        assert.equal((await ctx.log.get('tiered', 42)).kind, 'removed', 'gone from the local log');
        const found = await reader.get('tiered', 42);
        assert.equal(found.kind === 'record' && Buffer.from(found.record.body).toString(), 'm42', 'from the cold tier');
        assert.deepEqual(
          (await reader.readRange('tiered', 295, { maxRecords: 10, maxBytes: 1 << 20 })).map((r) => r.offset),
          Array.from({ length: 10 }, (_, i) => i + 295),
        );
        const cursor = await reader.tail('tiered', 250);
        const seen: number[] = [];
        while (seen.length < 101) seen.push(...(await cursor.next()).map((r) => r.offset));
        cursor.close();
        assert.deepEqual(
          seen,
          Array.from({ length: 101 }, (_, i) => i + 250),
          'replay crosses from cold to local with no gap or duplicate',
        );
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when the CQL server stops in the middle of a copy', () => {
    it('should reject as retriable and leave the segment owed; a retry after the restart copies every row once', async () => {
      // cassandra-driver can leave a reconnection timer behind when a client is shut down while reconnecting, which
      // keeps the test process alive: only the store that writes sees the outage, and it is closed once it is back.
      await cold.close();
      await cql.shutdown();
      const writing = await open();
      const ctx = await tempLog({ segmentMaxRecords: 500 });
      let stopped = false;
      const stopOnce = async (): Promise<void> => {
        if (stopped) return;
        await stopCql();
        stopped = true;
      };
      // The first copy stops the CQL server once its first 100 rows are on their way.
      const interrupting: ColdStore = {
        writeSegment: (segment, records, retentionMs) =>
          writing.writeSegment(segment, stopAfterFirstBatch(records, stopOnce), retentionMs),
        writeCommit: (segments, retentionMs) => writing.writeCommit(segments, retentionMs),
        get: (s, o) => writing.get(s, o),
        readRange: (s, f, b, l) => writing.readRange(s, f, b, l),
        close: async () => undefined,
      };
      const replicator = new Replicator(ctx.log, interrupting, 0, undefined, null);
      const ref: SegmentRef = { subject: 'outage', baseOffset: 1 };
      try {
        for (let i = 0; i < 501; i++)
          await ctx.log.append({ subject: 'outage', body: Buffer.alloc(64, 1), expirationSeconds: 0 });
        await assert.rejects(
          replicator.replicate(ref),
          (err: unknown) => err instanceof UnavailableError && err.retriable,
        );
        assert.ok(stopped);
        assert.deepEqual(await bases(ctx.log, 'outage'), [
          [1, false],
          [501, false],
        ]);
        await startCql();
        await until(async () => (await replicator.replicate(ref).catch(() => 'failed')) !== 'failed', 60_000);
        assert.equal((await ctx.log.segment(ref))?.replicated, true);
        const rows = await writing.readRange('outage', 1, 501, { maxRecords: 5000, maxBytes: 1 << 30 });
        assert.deepEqual(
          rows.map((r) => r.offset),
          Array.from({ length: 500 }, (_, i) => i + 1),
        );
      } finally {
        await startCql();
        await ctx.dispose();
        // Let the driver finish re-opening its pool to the returned server before shutting it down.
        await new Promise((r) => setTimeout(r, 3000));
        await writing.close();
        cold = await open();
        cql = await connectAdmin();
      }
    });
  });
});

/** The records in batches of 100; before the second one, `interrupt` runs (and is awaited). */
async function* stopAfterFirstBatch(
  records: AsyncIterable<LogRecord[]>,
  interrupt: () => Promise<void>,
): AsyncIterable<LogRecord[]> {
  let chunks = 0;
  for await (const batch of records) {
    for (let i = 0; i < batch.length; i += 100) {
      if (chunks++ === 1) await interrupt();
      yield batch.slice(i, i + 100);
    }
  }
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
