import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { loadConfig } from '../../core/index.js';
import { tempLog } from '../../log/test-support/temp-log.js';
import { openCassandraColdStore, type CassandraColdStore } from '../cold-store/cassandra-cold-store.js';
import { startBackgroundJobs } from '../index.js';
import { randomName, startCql, stopCql, testCqlContactPoints, testCqlLocalDc } from '../test-support/services.js';

const silent = pino({ level: 'silent' });

describe('replication to the cold tier (needs the CQL server)', () => {
  const keyspace = randomName('repl');
  let cold: CassandraColdStore;
  before(async () => {
    cold = await openCassandraColdStore({ contactPoints: testCqlContactPoints(), localDataCenter: testCqlLocalDc(), keyspace, replicationFactor: 1, consistency: 'localQuorum', concurrency: 32 });
  });
  after(async () => cold.close());

  describe('when segments are sealed and the broker drops them locally', () => {
    it('should replicate every row, then serve removed offsets from the cold tier through the tiered log', async () => {
      const ctx = await tempLog({ segmentMaxRecords: 100 });
      const config = loadConfig({ BROKER_ID: 'b1', BROKER_COMPACTION_INTERVAL: '1h', SCYLLA_CONTACT_POINTS: testCqlContactPoints().join(','), BROKER_LOCAL_RETENTION_BYTES: '1' });
      const jobs = await startBackgroundJobs({ config, log: ctx.log, logger: silent, coldStore: cold, registry: new Registry() });
      try {
        for (let i = 1; i <= 350; i++) await ctx.log.append({ subject: 'tiered', body: Buffer.from(`m${i}`), expirationSeconds: 0 });
        await jobs.runner.replicateOwedNow();
        const segs = await ctx.log.segments('tiered');
        assert.deepEqual(segs.map((s) => [s.baseOffset, s.replicated]), [[1, true], [101, true], [201, true], [301, false]]);
        const compaction = await jobs.runner.runCompactionNow();
        assert.equal((compaction as { segmentsDroppedLocally: number }).segmentsDroppedLocally, 3);
        assert.equal((await ctx.log.subjectInfo('tiered'))?.firstOffset, 301);
        assert.equal((await ctx.log.get('tiered', 42)).kind, 'removed', 'gone from the local log');
        const found = await jobs.log.get('tiered', 42);
        assert.equal(found.kind === 'record' && Buffer.from(found.record.body).toString(), 'm42', 'served from the cold tier');
        const range = await jobs.log.readRange('tiered', 95, { maxRecords: 10, maxBytes: 1 << 20 });
        assert.deepEqual(range.map((r) => r.offset), [95, 96, 97, 98, 99, 100, 101, 102, 103, 104]);
        const cursor = await jobs.log.tail('tiered', 250);
        const seen: number[] = [];
        while (seen.length < 101) seen.push(...(await cursor.next()).map((r) => r.offset));
        cursor.close();
        assert.deepEqual(seen, Array.from({ length: 101 }, (_, i) => i + 250), 'replay crosses from cold to local with no gap or duplicate');
      } finally {
        await jobs.close();
        await ctx.dispose();
      }
    });
  });

  describe('when the CQL server is down while a segment is owed', () => {
    it('should retry with backoff and complete after the server returns, with every row once', async () => {
      const ctx = await tempLog({ segmentMaxRecords: 500 });
      const config = loadConfig({ BROKER_ID: 'b2', BROKER_COMPACTION_INTERVAL: '1s', SCYLLA_CONTACT_POINTS: testCqlContactPoints().join(',') });
      const registry = new Registry();
      await stopCql();
      const jobs = await startBackgroundJobs({ config, log: ctx.log, logger: silent, coldStore: cold, registry });
      try {
        for (let i = 0; i < 1001; i++) await ctx.log.append({ subject: 'outage', body: Buffer.alloc(64, 1), expirationSeconds: 0 });
        await new Promise((r) => setTimeout(r, 1500));
        assert.deepEqual((await ctx.log.segments('outage')).map((s) => s.replicated), [false, false, false]);
        await startCql();
        const deadline = Date.now() + 60_000;
        while (!(await ctx.log.segments('outage')).filter((s) => s.sealed).every((s) => s.replicated) && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 250));
        }
        assert.deepEqual((await ctx.log.segments('outage')).map((s) => [s.baseOffset, s.replicated]), [[1, true], [501, true], [1001, false]]);
        const rows = await cold.readRange('outage', 1, 1001, { maxRecords: 5000, maxBytes: 1 << 30 });
        assert.deepEqual(rows.map((r) => r.offset), Array.from({ length: 1000 }, (_, i) => i + 1));
        const metrics = await registry.getSingleMetricAsString('broker_job_retries_total');
        assert.match(metrics, /broker_job_retries_total\{job="replication"\} [1-9]/);
      } finally {
        await startCql();
        await jobs.close();
        await ctx.dispose();
      }
    });
  });
});
