// npm run bench:replication [-- --segments 8 --records 5000 --concurrency 16,64,256 --rounds 1]
//
// Cold-tier write throughput: writes --segments sealed segments of --records records each through the Cassandra
// ColdStore (the replication job's write path: prepared INSERTs with TTL, bounded concurrency, segment row last), for
// 100 B and 1 KiB bodies at each --concurrency, and prints rows/s and MB/s (body bytes) as a Markdown table.
// The CQL server: TEST_CQL_CONTACT_POINTS if set, else `bash scripts/services.sh start` (Cassandra 5 on this machine's
// Java: the stand-in for ScyllaDB, so the figures are Cassandra's, on one small node sharing the CPUs with the bench).
// Each cell writes into a fresh random keyspace, dropped afterwards.
//
// Reuse: ensureCqlServer() and coldStoreWriteCell() are exported for the second half of the replication bench
// (publish throughput with the replication jobs running vs not), which the jobs' owner adds next to them.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import cassandra from 'cassandra-driver';
import type { LogRecord, SegmentInfo } from '../core/index.js';
import { openCassandraColdStore } from '../replication/index.js';
import { waitForQuiet } from './support/quiet.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface CqlServer {
  readonly contactPoints: string[];
  readonly localDataCenter: string;
  /** Where they came from: the environment, or services.sh started (or reused) them. */
  readonly source: 'env' | 'services.sh';
}

/** The CQL server to measure against: TEST_CQL_CONTACT_POINTS, else the one scripts/services.sh starts or reuses. */
export async function ensureCqlServer(): Promise<CqlServer> {
  const fromEnv = process.env.TEST_CQL_CONTACT_POINTS;
  if (fromEnv !== undefined && fromEnv !== '') {
    return { contactPoints: fromEnv.split(','), localDataCenter: process.env.TEST_CQL_LOCAL_DC ?? 'datacenter1', source: 'env' };
  }
  await promisify(execFile)('bash', [`${ROOT}scripts/services.sh`, 'start'], { cwd: ROOT, timeout: 1_800_000 });
  const env = await readFile(`${process.env.SERVICES_DIR ?? `${ROOT}.services`}/env`, 'utf8');
  const value = (name: string): string | undefined => env.match(new RegExp(`^export ${name}=(.*)$`, 'm'))?.[1];
  const points = value('TEST_CQL_CONTACT_POINTS');
  if (points === undefined) throw new Error('scripts/services.sh start wrote no TEST_CQL_CONTACT_POINTS');
  return { contactPoints: points.split(','), localDataCenter: value('TEST_CQL_LOCAL_DC') ?? 'datacenter1', source: 'services.sh' };
}

export interface WriteCell {
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

function segmentOf(subject: string, baseOffset: number, records: number, bodyBytes: number, nowMs: number): { info: SegmentInfo; batches: () => AsyncIterable<LogRecord[]> } {
  const body = randomBytes(bodyBytes);
  const info: SegmentInfo = {
    subject, baseOffset, lastOffset: baseOffset + records - 1, count: records, bytes: records * bodyBytes,
    firstPublishMs: nowMs, lastPublishMs: nowMs, maxExplicitExpiryMs: 0, lastRetentionPublishMs: nowMs, sealed: true, replicated: false,
  };
  async function* batches(): AsyncIterable<LogRecord[]> {
    for (let i = 0; i < records; i += 1000) {
      const n = Math.min(1000, records - i);
      yield Array.from({ length: n }, (_, k) => ({ subject, offset: baseOffset + i + k, body, publishedAtMs: nowMs, expirationSeconds: 0 }));
    }
  }
  return { info, batches };
}

/**
 * Writes `segments` segments of `records` records of `bodyBytes` through a fresh ColdStore (7-day retention, so
 * every row carries a TTL) into a random keyspace that is dropped afterwards; segments are copied one after another,
 * as one replication job does.
 */
export async function coldStoreWriteCell(server: CqlServer, opts: { segments: number; records: number; bodyBytes: number; concurrency: number }): Promise<WriteCell> {
  const keyspace = `bench_${randomBytes(5).toString('hex')}`;
  const store = await openCassandraColdStore({
    contactPoints: server.contactPoints, localDataCenter: server.localDataCenter, keyspace,
    replicationFactor: 1, consistency: 'localQuorum', concurrency: opts.concurrency,
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
    return { bodyBytes: opts.bodyBytes, concurrency: opts.concurrency, rows, bytes, seconds, rowsPerSecond: rows / seconds, mbPerSecond: bytes / seconds / 1e6, busyBefore };
  } finally {
    await store.close();
    const admin = new cassandra.Client({ contactPoints: server.contactPoints, localDataCenter: server.localDataCenter });
    try {
      await admin.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
    } finally {
      await admin.shutdown();
    }
  }
}

export function writeTable(cells: readonly WriteCell[]): string {
  const lines = [
    '| body | concurrency | rows | seconds | rows/s | MB/s (bodies) | CPU busy before |',
    '|---:|---:|---:|---:|---:|---:|---:|',
    ...cells.map((c) => `| ${c.bodyBytes} B | ${c.concurrency} | ${c.rows} | ${c.seconds.toFixed(2)} | ${Math.round(c.rowsPerSecond)} | ${c.mbPerSecond.toFixed(2)} | ${Math.round(c.busyBefore)} % |`),
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      segments: { type: 'string', default: '8' },
      records: { type: 'string', default: '5000' },
      concurrency: { type: 'string', default: '16,64,256' },
      rounds: { type: 'string', default: '1' },
    },
  });
  const segments = Number(values.segments);
  const records = Number(values.records);
  const rounds = Number(values.rounds);
  const concurrencies = values.concurrency.split(',').map(Number);
  for (const [name, v] of [['segments', segments], ['records', records], ['rounds', rounds], ...concurrencies.map((c) => ['concurrency', c] as const)] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer, not ${v}`);
  }
  const server = await ensureCqlServer();
  console.error(`CQL server ${server.contactPoints.join(',')} (${server.source}); ${segments} segments x ${records} records per cell`);
  const cells: WriteCell[] = [];
  for (const bodyBytes of [100, 1024]) {
    for (const concurrency of concurrencies) {
      const runs: WriteCell[] = [];
      for (let r = 0; r < rounds; r++) runs.push(await coldStoreWriteCell(server, { segments, records, bodyBytes, concurrency }));
      const median = runs.sort((a, b) => a.rowsPerSecond - b.rowsPerSecond)[Math.floor(runs.length / 2)]!;
      console.error(`  ${bodyBytes} B x ${concurrency} in flight: ${Math.round(median.rowsPerSecond)} rows/s`);
      cells.push(median);
    }
  }
  console.log(`## Cold-tier writes (ColdStore on Cassandra ${server.source === 'env' ? 'from TEST_CQL_CONTACT_POINTS' : 'from scripts/services.sh'})\n`);
  console.log(writeTable(cells));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
