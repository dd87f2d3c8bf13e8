import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import cassandra from 'cassandra-driver';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { loadConfig, type ColdStore, type Log, type LogRecord } from '../core/index.js';
import { tempLog } from '../log/test-support/temp-log.js';
import { startBackgroundJobs } from '../api/server/background-jobs.js';
import { openCassandraColdStore, type CassandraColdStore } from './cassandra/index.js';
import { randomKeyspace, startCql, stopCql, testCqlContactPoints, testCqlLocalDc } from '../test-support/services.js';
import { Compactor } from '../retention/compaction.js';
import { InProcessRunner } from '../jobs/in-process-runner.js';
import { JobMetrics } from '../jobs/job-metrics.js';
import { Replicator } from './replicator.js';

const silent = pino({ level: 'silent' });
const DAY_MS = 24 * 3_600_000;

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 250));
  }
}

const sealedAllReplicated = (log: Log, subject: string) => async (): Promise<boolean> =>
  (await log.segments(subject)).filter((s) => s.sealed).every((s) => s.replicated);

describe('replication to the cold tier (needs the CQL server)', () => {
  const keyspace = randomKeyspace('jobs');
  let cold: CassandraColdStore;
  let cql: cassandra.Client;
  const open = (): Promise<CassandraColdStore> =>
    openCassandraColdStore({
      contactPoints: testCqlContactPoints(),
      localDataCenter: testCqlLocalDc(),
      keyspace,
      replicationFactor: 1,
      consistency: 'localQuorum',
      concurrency: 32,
    });
  before(async () => {
    cold = await open();
    cql = await connectAdmin();
  });
  const connectAdmin = async (): Promise<cassandra.Client> => {
    const client = new cassandra.Client({ contactPoints: testCqlContactPoints(), localDataCenter: testCqlLocalDc() });
    await client.connect();
    return client;
  };
  after(async () => {
    await cql.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
    await cql.shutdown();
    await cold.close();
  });

  describe('when a segment is sealed', () => {
    it('should write every row with the TTL of its record, then mark the segment replicated', async () => {
      const ctx = await tempLog({ segmentMaxRecords: 100 });
      const config = loadConfig({
        BROKER_ID: 'ttl',
        BROKER_COMPACTION_INTERVAL: '1h',
        BROKER_RETENTION: '1d',
        SCYLLA_CONTACT_POINTS: testCqlContactPoints().join(','),
      });
      const jobs = await startBackgroundJobs({
        config,
        log: ctx.log,
        logger: silent,
        coldStore: cold,
        registry: new Registry(),
      });
      try {
        for (let i = 1; i <= 101; i++)
          await ctx.log.append({
            subject: 'ttl',
            body: Buffer.from(`m${i}`),
            expirationSeconds: i % 2 === 0 ? 600 : 0,
          });
        await until(sealedAllReplicated(ctx.log, 'ttl'), 20_000);
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
        await jobs.close();
        await ctx.dispose();
      }
    });
  });

  describe('when segments are replicated and the broker drops them locally', () => {
    it('should serve removed offsets from the cold tier through the tiered log', async () => {
      const ctx = await tempLog({ segmentMaxRecords: 100 });
      const config = loadConfig({
        BROKER_ID: 'b1',
        BROKER_COMPACTION_INTERVAL: '1h',
        SCYLLA_CONTACT_POINTS: testCqlContactPoints().join(','),
        BROKER_LOCAL_RETENTION_BYTES: '1',
      });
      const jobs = await startBackgroundJobs({
        config,
        log: ctx.log,
        logger: silent,
        coldStore: cold,
        registry: new Registry(),
      });
      try {
        for (let i = 1; i <= 350; i++)
          await ctx.log.append({ subject: 'tiered', body: Buffer.from(`m${i}`), expirationSeconds: 0 });
        await jobs.replicateOwedNow();
        assert.deepEqual(
          (await ctx.log.segments('tiered')).map((s) => [s.baseOffset, s.replicated]),
          [
            [1, true],
            [101, true],
            [201, true],
            [301, false],
          ],
        );
        const compaction = await jobs.runCompactionNow();
        assert.equal(compaction.segmentsDroppedLocally, 3);
        assert.equal((await ctx.log.subjectInfo('tiered'))?.firstOffset, 301);
        assert.equal((await ctx.log.get('tiered', 42)).kind, 'removed', 'gone from the local log');
        const found = await jobs.reader.get('tiered', 42);
        assert.equal(
          found.kind === 'record' && Buffer.from(found.record.body).toString(),
          'm42',
          'served from the cold tier',
        );
        const range = await jobs.reader.readRange('tiered', 95, { maxRecords: 10, maxBytes: 1 << 20 });
        assert.deepEqual(
          range.map((r) => r.offset),
          [95, 96, 97, 98, 99, 100, 101, 102, 103, 104],
        );
        const cursor = await jobs.reader.tail('tiered', 250);
        const seen: number[] = [];
        while (seen.length < 101) seen.push(...(await cursor.next()).map((r) => r.offset));
        cursor.close();
        assert.deepEqual(
          seen,
          Array.from({ length: 101 }, (_, i) => i + 250),
          'replay crosses from cold to local with no gap or duplicate',
        );
      } finally {
        await jobs.close();
        await ctx.dispose();
      }
    });
  });

  describe('when the CQL server stops in the middle of a replication job', () => {
    it('should retry with backoff and complete after the server returns, with no row missing or twice', async () => {
      // cassandra-driver can leave a reconnection timer behind when a client is shut down while reconnecting, which
      // keeps the test process alive: only the store that writes sees the outage, and it is closed once it is back.
      await cold.close();
      await cql.shutdown();
      const writing = await open();
      const ctx = await tempLog({ segmentMaxRecords: 500 });
      const registry = new Registry();
      const metrics = new JobMetrics(registry);
      let stopped: Promise<void> | undefined;
      // The first copy stops the CQL server once its first 100 rows are written.
      const interrupting: ColdStore = {
        writeSegment: (segment, records, retentionMs) => {
          async function* stopAfterFirstBatch(): AsyncIterable<LogRecord[]> {
            let chunks = 0;
            for await (const batch of records) {
              for (let i = 0; i < batch.length; i += 100) {
                if (chunks++ === 1 && stopped === undefined) {
                  stopped = stopCql();
                  await stopped;
                }
                yield batch.slice(i, i + 100);
              }
            }
          }
          return writing.writeSegment(segment, stopAfterFirstBatch(), retentionMs);
        },
        get: (s, o) => writing.get(s, o),
        readRange: (s, f, b, l) => writing.readRange(s, f, b, l),
        close: async () => undefined,
      };
      const runner = new InProcessRunner({
        log: ctx.log,
        compactor: new Compactor(ctx.log, { retentionMs: 0, localRetentionMs: 0, localRetentionBytes: 0 }),
        replicator: new Replicator(ctx.log, interrupting, 0, metrics),
        intervalMs: 60_000,
        metrics,
        logger: silent,
        attempts: 100,
        backoffMs: 250,
        maxBackoffMs: 2000,
      });
      try {
        for (let i = 0; i < 501; i++)
          await ctx.log.append({ subject: 'outage', body: Buffer.alloc(64, 1), expirationSeconds: 0 });
        await until(async () => stopped !== undefined, 20_000);
        await stopped;
        await new Promise((r) => setTimeout(r, 1500));
        assert.deepEqual(
          (await ctx.log.segments('outage')).map((s) => s.replicated),
          [false, false],
          'not marked while rows are missing',
        );
        await startCql();
        await until(sealedAllReplicated(ctx.log, 'outage'), 60_000);
        const rows = await writing.readRange('outage', 1, 501, { maxRecords: 5000, maxBytes: 1 << 30 });
        assert.deepEqual(
          rows.map((r) => r.offset),
          Array.from({ length: 500 }, (_, i) => i + 1),
        );
        assert.match(await registry.metrics(), /broker_job_retries_total\{job="replication"\} [1-9]/);
      } finally {
        await startCql();
        await runner.close();
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
