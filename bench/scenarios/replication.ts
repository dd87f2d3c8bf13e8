// npm run bench:replication [-- --segments 8 --records 5000 --concurrency 16,64,256 --rounds 1 --seconds 10]
//
// 1. Cold-tier write throughput: writes --segments sealed segments of --records records each through the Cassandra
// ColdStore (the replication job's write path: prepared INSERTs with TTL, bounded concurrency, segment row last), for
// 100 B and 1 KiB bodies at each --concurrency, and prints rows/s and MB/s (body bytes) as a Markdown table.
// 2. Publish throughput (appends, 256 in flight, 1 KiB, fsync batch) with compaction and replication running against
//    the same run without them, alternated twice, for --seconds each (0 skips it). Target: within 15%.
// The CQL server: TEST_CQL_CONTACT_POINTS if set, else `scripts/services.sh start` in a temp state dir, stopped at the
// end (Cassandra 5 on this machine's Java: the stand-in for ScyllaDB, so the figures are Cassandra's, on one small
// node sharing the CPUs with the bench). Each write cell uses a fresh random keyspace, dropped afterwards.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import cassandra from 'cassandra-driver';
import { pino } from 'pino';
import { loadConfig, type ColdStore, type LogRecord, type SegmentInfo } from '../../core/index.js';
import { logOptionsFromConfig, openLog } from '../../log/index.js';
// api/ has no public entry point for its composition root's parts; the background jobs are what this measures.
import { startBackgroundJobs } from '../../api/server/background-jobs.js';
import { openCassandraColdStore } from '../../tiering/cassandra/index.js';
import { waitForQuiet } from '../support/quiet.js';
import type { ScenarioResult } from '../support/result.js';
import { medianBy } from '../support/stats.js';
import { COMMON_OPTIONS } from './scenario.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface CqlServer {
  readonly contactPoints: string[];
  readonly localDataCenter: string;
  /** Where they came from: the environment, or services.sh started them in a temp state dir. */
  readonly source: 'env' | 'services.sh';
  /** Stops what ensureCqlServer started (nothing when it came from the environment). */
  stop(): Promise<void>;
}

/** The CQL server to measure against: TEST_CQL_CONTACT_POINTS, else one scripts/services.sh starts in a temp dir. */
export async function ensureCqlServer(): Promise<CqlServer> {
  const fromEnv = process.env.TEST_CQL_CONTACT_POINTS;
  if (fromEnv !== undefined && fromEnv !== '') {
    return {
      contactPoints: fromEnv.split(','),
      localDataCenter: process.env.TEST_CQL_LOCAL_DC ?? 'datacenter1',
      source: 'env',
      stop: async () => undefined,
    };
  }
  const dir = await mkdtemp(join(tmpdir(), 'bench-services-'));
  const services = (command: string) =>
    promisify(execFile)('bash', [`${ROOT}scripts/services.sh`, command], {
      cwd: ROOT,
      timeout: 1_800_000,
      env: { ...process.env, SERVICES_DIR: dir },
    });
  const stop = async (): Promise<void> => {
    await services('stop');
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await services('start');
    const env = await readFile(join(dir, 'env'), 'utf8');
    const value = (name: string): string | undefined => env.match(new RegExp(`^export ${name}=(.*)$`, 'm'))?.[1];
    const points = value('TEST_CQL_CONTACT_POINTS');
    if (points === undefined) throw new Error('scripts/services.sh start wrote no TEST_CQL_CONTACT_POINTS');
    return {
      contactPoints: points.split(','),
      localDataCenter: value('TEST_CQL_LOCAL_DC') ?? 'datacenter1',
      source: 'services.sh',
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

interface WriteCell {
  bodyBytes: number;
  concurrency: number;
  rows: number;
  bytes: number;
  seconds: number;
  rowsPerSecond: number;
  mbPerSecond: number;
  /** CPU busy (all cores, %) just before the cell started: a high figure means a noisy measurement. */
  busyBefore: number;
}

function segmentOf(
  subject: string,
  baseOffset: number,
  records: number,
  bodyBytes: number,
  nowMs: number,
): { info: SegmentInfo; batches: () => AsyncIterable<LogRecord[]> } {
  const body = randomBytes(bodyBytes);
  const info: SegmentInfo = {
    subject,
    baseOffset,
    lastOffset: baseOffset + records - 1,
    count: records,
    bytes: records * bodyBytes,
    firstPublishMs: nowMs,
    lastPublishMs: nowMs,
    maxExplicitExpiryMs: 0,
    lastRetentionPublishMs: nowMs,
    sealed: true,
    replicated: false,
  };
  async function* batches(): AsyncIterable<LogRecord[]> {
    for (let i = 0; i < records; i += 1000) {
      const n = Math.min(1000, records - i);
      yield Array.from({ length: n }, (_, k) => ({
        subject,
        offset: baseOffset + i + k,
        body,
        publishedAtMs: nowMs,
        expirationSeconds: 0,
      }));
    }
  }
  return { info, batches };
}

/**
 * Writes `segments` segments of `records` records of `bodyBytes` through a fresh ColdStore (7-day retention, so
 * every row carries a TTL) into a random keyspace that is dropped afterwards; segments are copied one after another,
 * as one replication job does.
 */
async function coldStoreWriteCell(
  server: CqlServer,
  opts: { segments: number; records: number; bodyBytes: number; concurrency: number },
): Promise<WriteCell> {
  const keyspace = `bench_${randomBytes(5).toString('hex')}`;
  const store = await openCassandraColdStore({
    contactPoints: server.contactPoints,
    localDataCenter: server.localDataCenter,
    keyspace,
    replicationFactor: 1,
    consistency: 'localQuorum',
    concurrency: opts.concurrency,
  });
  try {
    const busyBefore = await waitForQuiet();
    const now = Date.now();
    const started = process.hrtime.bigint();
    let rows = 0;
    let bytes = 0;
    for (let s = 0; s < opts.segments; s++) {
      const seg = segmentOf(`bench.${s % 4}`, 1 + Math.floor(s / 4) * opts.records, opts.records, opts.bodyBytes, now);
      const written = await store.writeSegment(seg.info, seg.batches(), 7 * 24 * 3600 * 1000);
      rows += written.rows;
      bytes += written.bytes;
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return {
      bodyBytes: opts.bodyBytes,
      concurrency: opts.concurrency,
      rows,
      bytes,
      seconds,
      rowsPerSecond: rows / seconds,
      mbPerSecond: bytes / seconds / 1e6,
      busyBefore,
    };
  } finally {
    await store.close();
    await dropKeyspace(server, keyspace);
  }
}

function writeRows(cells: readonly WriteCell[]): string[][] {
  return cells.map((c) => [
    `${c.bodyBytes} B`,
    `${c.concurrency}`,
    `${c.rows}`,
    c.seconds.toFixed(2),
    `${Math.round(c.rowsPerSecond)}`,
    c.mbPerSecond.toFixed(2),
    `${Math.round(c.busyBefore)} %`,
  ]);
}

/**
 * Appends/s of 256 appenders (1 KiB, fsync batch) on a fresh log for `seconds`, with or without the background jobs
 * (compaction every second, 5 s retention, replication into `cold`).
 */
async function publishRate(
  server: CqlServer,
  cold: ColdStore,
  keyspace: string,
  withJobs: boolean,
  seconds: number,
): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-repl-'));
  const config = loadConfig({
    BROKER_ID: 'bench',
    BROKER_DATA_DIR: dir,
    BROKER_FSYNC: 'batch',
    BROKER_SEGMENT_MAX_RECORDS: '5000',
    BROKER_COMPACTION_INTERVAL: '1s',
    BROKER_RETENTION: '5s',
    SCYLLA_CONTACT_POINTS: server.contactPoints.join(','),
    SCYLLA_KEYSPACE: keyspace,
  });
  const log = await openLog(logOptionsFromConfig(config));
  const jobs = withJobs
    ? await startBackgroundJobs({ config, log, logger: pino({ level: 'silent' }), coldStore: cold })
    : undefined;
  const body = Buffer.alloc(1024, 1);
  let appended = 0;
  const end = performance.now() + seconds * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: 256 }, async (_, i) => {
      while (performance.now() < end) {
        await log.append({ subject: `pub.${i % 16}`, body, expirationSeconds: 0 });
        appended += 1;
      }
    }),
  );
  const rate = appended / ((performance.now() - start) / 1000);
  const info = await log.subjectInfo('pub.0');
  await jobs?.close();
  await log.close();
  await rm(dir, { recursive: true, force: true });
  console.error(
    `  publish ${withJobs ? 'with' : 'without'} jobs: ${Math.round(rate)} appends/s (pub.0: ${info?.segments} segments, ${info?.replicatedSegments} replicated)`,
  );
  return rate;
}

async function publishRows(server: CqlServer, seconds: number): Promise<string[][]> {
  const keyspace = `bench_${randomBytes(5).toString('hex')}`;
  const cold = await openCassandraColdStore({
    contactPoints: server.contactPoints,
    localDataCenter: server.localDataCenter,
    keyspace,
    replicationFactor: 1,
    consistency: 'localQuorum',
    concurrency: 64,
  });
  try {
    // Alternated twice, so a drift of the shared machine lands on both sides.
    const without1 = await publishRate(server, cold, keyspace, false, seconds);
    const with1 = await publishRate(server, cold, keyspace, true, seconds);
    const without2 = await publishRate(server, cold, keyspace, false, seconds);
    const with2 = await publishRate(server, cold, keyspace, true, seconds);
    const without = (without1 + without2) / 2;
    const withJobs = (with1 + with2) / 2;
    return [
      [
        'publish, 256 in flight, 1 KiB, fsync batch, without jobs',
        `${Math.round(without).toLocaleString('en')} appends/s`,
        '',
      ],
      [
        'same, with compaction (1 s) and replication running',
        `${Math.round(withJobs).toLocaleString('en')} appends/s`,
        `${((withJobs / without) * 100).toFixed(0)}% of without (target >= 85%)`,
      ],
    ];
  } finally {
    await cold.close();
    await dropKeyspace(server, keyspace);
  }
}

export async function dropKeyspace(server: CqlServer, keyspace: string): Promise<void> {
  const admin = new cassandra.Client({ contactPoints: server.contactPoints, localDataCenter: server.localDataCenter });
  try {
    await admin.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
  } finally {
    await admin.shutdown();
  }
}

async function writeCells(
  server: CqlServer,
  o: { segments: number; records: number; rounds: number; concurrencies: readonly number[] },
): Promise<WriteCell[]> {
  const cells: WriteCell[] = [];
  for (const bodyBytes of [100, 1024]) {
    for (const concurrency of o.concurrencies) {
      const runs: WriteCell[] = [];
      for (let r = 0; r < o.rounds; r++)
        runs.push(
          await coldStoreWriteCell(server, { segments: o.segments, records: o.records, bodyBytes, concurrency }),
        );
      const median = medianBy(runs, (c) => c.rowsPerSecond);
      console.error(`  ${bodyBytes} B x ${concurrency} in flight: ${Math.round(median.rowsPerSecond)} rows/s`);
      cells.push(median);
    }
  }
  return cells;
}

export async function run(args: string[]): Promise<ScenarioResult> {
  const { values } = parseArgs({
    args,
    options: {
      ...COMMON_OPTIONS,
      segments: { type: 'string', default: '8' },
      records: { type: 'string', default: '5000' },
      concurrency: { type: 'string', default: '16,64,256' },
      rounds: { type: 'string', default: '1' },
      seconds: { type: 'string', default: '10' },
    },
  });
  const segments = Number(values.segments);
  const records = Number(values.records);
  const rounds = Number(values.rounds);
  const concurrencies = values.concurrency.split(',').map(Number);
  const seconds = Number(values.seconds);
  if (!Number.isFinite(seconds) || seconds < 0)
    throw new Error(`--seconds must be a number >= 0, not ${values.seconds}`);
  for (const [name, v] of [
    ['segments', segments],
    ['records', records],
    ['rounds', rounds],
    ...concurrencies.map((c) => ['concurrency', c] as const),
  ] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer, not ${v}`);
  }
  const server = await ensureCqlServer();
  console.error(
    `CQL server ${server.contactPoints.join(',')} (${server.source}); ${segments} segments x ${records} records per cell`,
  );
  try {
    const cells = await writeCells(server, { segments, records, rounds, concurrencies });
    const publish = seconds > 0 ? await publishRows(server, seconds) : undefined;
    return {
      heading: `## Cold-tier writes (ColdStore on Cassandra ${server.source === 'env' ? 'from TEST_CQL_CONTACT_POINTS' : 'from scripts/services.sh'})`,
      options: { segments, records, rounds, concurrency: concurrencies, seconds },
      tables: [
        {
          kind: 'cells',
          columns: ['body', 'concurrency', 'rows', 'seconds', 'rows/s', 'MB/s (bodies)', 'CPU busy before'],
          align: ['right', 'right', 'right', 'right', 'right', 'right', 'right'],
          rows: writeRows(cells),
        },
        ...(publish === undefined
          ? []
          : [
              {
                kind: 'cells' as const,
                title: '## Publish throughput with and without the background jobs',
                columns: ['measurement', 'rate', 'note'],
                rows: publish,
              },
            ]),
      ],
    };
  } finally {
    await server.stop();
  }
}
