// npm run bench:replication [-- --rows 20000 --seconds 10]
// 1. Replication throughput into the CQL server (rows/s, MB/s) through the cold store, 100 B and 1 KiB records.
// 2. Publish throughput (appends, 256 in flight, 1 KiB, fsync batch) with compaction and replication running
//    against the same run without them. Target: within 15%.
// Uses TEST_CQL_CONTACT_POINTS when set (as under npm test); otherwise starts the test services itself.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { loadConfig, type LogRecord, type SegmentInfo } from '../core/index.js';
import { openLog } from '../log/index.js';
import { TEST_LOG_DEFAULTS } from '../log/test-support/temp-log.js';
import { openCassandraColdStore, startBackgroundJobs } from '../replication/index.js';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '20000' }, seconds: { type: 'string', default: '10' } } });
const ROWS = Number(values.rows);
const SECONDS = Number(values.seconds);
const ROOT = fileURLToPath(new URL('../', import.meta.url));

async function contactPoints(): Promise<{ points: string[]; stop: () => void }> {
  if (process.env.TEST_CQL_CONTACT_POINTS) return { points: process.env.TEST_CQL_CONTACT_POINTS.split(','), stop: () => undefined };
  const dir = await mkdtemp(join(tmpdir(), 'bench-services-'));
  const env = { ...process.env, SERVICES_DIR: dir };
  execFileSync('bash', [join(ROOT, 'scripts/services.sh'), 'start'], { env, stdio: 'inherit' });
  const text = await readFile(join(dir, 'env'), 'utf8');
  const points = /TEST_CQL_CONTACT_POINTS=(\S+)/.exec(text)![1]!.split(',');
  return { points, stop: () => execFileSync('bash', [join(ROOT, 'scripts/services.sh'), 'stop'], { env, stdio: 'inherit' }) };
}

const services = await contactPoints();
const keyspace = `bench_${Date.now()}`;
const cold = await openCassandraColdStore({ contactPoints: services.points, localDataCenter: 'datacenter1', keyspace, replicationFactor: 1, consistency: 'localQuorum', concurrency: 64 });
const rows: string[] = [];
try {
  for (const size of [100, 1024]) {
    const segmentSize = 5000;
    const started = performance.now();
    for (let base = 1; base <= ROWS; base += segmentSize) {
      const now = Date.now();
      const records: LogRecord[] = Array.from({ length: Math.min(segmentSize, ROWS - base + 1) }, (_, i) => ({ subject: `bench.${size}`, offset: base + i, body: Buffer.alloc(size, 1), publishedAtMs: now, expirationSeconds: 0 }));
      const segment: SegmentInfo = { subject: `bench.${size}`, baseOffset: base, lastOffset: base + records.length - 1, count: records.length, bytes: records.length * size, firstPublishMs: now, lastPublishMs: now, maxExplicitExpiryMs: 0, lastRetentionPublishMs: now, sealed: true, replicated: false };
      await cold.writeSegment(segment, (async function* () { for (let i = 0; i < records.length; i += 1000) yield records.slice(i, i + 1000); })(), 3_600_000);
    }
    const s = (performance.now() - started) / 1000;
    rows.push(`| replication into CQL, ${size} B rows | ${Math.round(ROWS / s).toLocaleString('en')} rows/s | ${((ROWS * size) / s / 1e6).toFixed(2)} MB/s |`);
    console.log(rows[rows.length - 1]);
  }

  const publishRate = async (withJobs: boolean): Promise<number> => {
    const dir = await mkdtemp(join(tmpdir(), 'bench-repl-'));
    const log = await openLog({ ...TEST_LOG_DEFAULTS, dataDir: dir, fsync: 'batch', segmentMaxRecords: 5000 });
    const config = loadConfig({ BROKER_ID: 'bench', BROKER_COMPACTION_INTERVAL: '1s', BROKER_RETENTION: '5s', SCYLLA_CONTACT_POINTS: services.points.join(','), SCYLLA_KEYSPACE: keyspace });
    const jobs = withJobs ? await startBackgroundJobs({ config, log, logger: pino({ level: 'silent' }), coldStore: cold }) : undefined;
    const body = Buffer.alloc(1024, 1);
    let appended = 0;
    const end = performance.now() + SECONDS * 1000;
    const start = performance.now();
    await Promise.all(Array.from({ length: 256 }, async (_, i) => {
      while (performance.now() < end) {
        await log.append({ subject: `pub.${i % 16}`, body, expirationSeconds: 0 });
        appended += 1;
      }
    }));
    const rate = appended / ((performance.now() - start) / 1000);
    const info = await log.subjectInfo('pub.0');
    await jobs?.close();
    await log.close();
    await rm(dir, { recursive: true, force: true });
    console.log(`publish ${withJobs ? 'with' : 'without'} jobs: ${Math.round(rate)} appends/s (pub.0: ${info?.segments} segments, ${info?.replicatedSegments} replicated)`);
    return rate;
  };
  const without1 = await publishRate(false);
  const with1 = await publishRate(true);
  const without2 = await publishRate(false);
  const with2 = await publishRate(true);
  const without = (without1 + without2) / 2;
  const withJobs = (with1 + with2) / 2;
  rows.push(`| publish, 256 in flight, 1 KiB, fsync batch, without jobs | ${Math.round(without).toLocaleString('en')} appends/s | |`);
  rows.push(`| same, with compaction (1 s) and replication running | ${Math.round(withJobs).toLocaleString('en')} appends/s | ${((withJobs / without) * 100).toFixed(0)}% of without (target >= 85%) |`);
} finally {
  await cold.close();
  services.stop();
}
console.log('\n| measurement | rate | note |\n| --- | --- | --- |');
for (const r of rows) console.log(r);
