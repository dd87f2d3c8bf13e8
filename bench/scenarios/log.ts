// npm run bench:log [-- --seconds 2 --rounds 3]
//
// The log's group commit against the raw LevelDB ceiling, in the same run on the same machine:
// - appends/s and MB/s for 100 B and 1 KiB payloads with 1, 64 and 1024 concurrent appenders, fsync batch and never
//   (appender i appends to subject bench.<i mod 8>);
// - the raw ceiling: one writer doing LevelDB batches of 1000 of the same records (same keys, same values, same
//   sync setting), one batch at a time, both as an array batch (db.batch(ops)) and as a chained batch
//   (db.batch().put()…write(), about twice as fast here); log / raw is against the faster of the two;
// - one subject's tailing reader ('live' cursor) against 1024 appenders: delivered/s next to appended/s.
// Prints Markdown tables. Every cell uses a fresh LevelDB in a temp dir. The machine is shared, so raw and log cells
// are interleaved and run --rounds times; the tables show each cell's median round (by records/s).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Level } from 'level';
import { loadConfig, type LogObserver } from '../../core/index.js';
import { logOptionsFromConfig, openLog } from '../../log/index.js';
import type { ScenarioResult } from '../support/result.js';
import { medianBy, quantileOfSorted } from '../support/stats.js';
import { COMMON_OPTIONS } from './scenario.js';

type BenchLog = Awaited<ReturnType<typeof openLog>>;
type Fsync = 'batch' | 'never';

const SUBJECTS = 8;
const RAW_BATCH = 1000;
const RECORD_HEADER = 12; // publishedAtMs (8) + expirationSeconds (4), as the log stores a record
const APPENDERS = [1, 64, 1024] as const;
const COMBOS = (['never', 'batch'] as const).flatMap((fsync) => [100, 1024].map((size) => ({ fsync, size })));

interface Cell {
  rate: number;
  mbPerSecond: number;
  cpuPercent: number;
  batches: number;
  p50Ms: number;
  p99Ms: number;
}

async function withTempDir<T>(run: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-log-'));
  try {
    return await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Keys as the log builds them: 0x01 subject 0x00 offset(8, big-endian). */
function recordKey(subject: string, offset: number): Buffer {
  const len = Buffer.byteLength(subject);
  const key = Buffer.allocUnsafe(len + 10);
  key[0] = 1;
  key.write(subject, 1);
  key[len + 1] = 0;
  key.writeUInt32BE(Math.floor(offset / 2 ** 32), len + 2);
  key.writeUInt32BE(offset >>> 0, len + 6);
  return key;
}

/** The raw ceiling: one writer, batches of RAW_BATCH records spread over the same subjects, one batch at a time. */
async function rawCeiling(seconds: number, size: number, fsync: Fsync, chained: boolean): Promise<Cell> {
  return withTempDir(async (dir) => {
    const db = new Level<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    await db.open();
    const body = Buffer.alloc(size, 7);
    const offsets = new Array<number>(SUBJECTS).fill(0);
    let records = 0;
    let batches = 0;
    const cpu = process.cpuUsage();
    const start = performance.now();
    const end = start + seconds * 1000;
    const record = (i: number): { key: Buffer; value: Buffer } => {
      const s = (records + i) % SUBJECTS;
      const offset = (offsets[s] ?? 0) + 1;
      offsets[s] = offset;
      const value = Buffer.allocUnsafe(RECORD_HEADER + size);
      value.writeDoubleBE(Date.now(), 0);
      value.writeInt32BE(0, 8);
      value.set(body, RECORD_HEADER);
      return { key: recordKey(`bench.${s}`, offset), value };
    };
    while (performance.now() < end) {
      if (chained) {
        const batch = db.batch();
        for (let i = 0; i < RAW_BATCH; i++) {
          const { key, value } = record(i);
          batch.put(key, value);
        }
        await batch.write({ sync: fsync === 'batch' });
      } else {
        const ops: Array<{ type: 'put'; key: Buffer; value: Buffer }> = [];
        for (let i = 0; i < RAW_BATCH; i++) ops.push({ type: 'put', ...record(i) });
        await db.batch(ops, { sync: fsync === 'batch' });
      }
      records += RAW_BATCH;
      batches += 1;
    }
    const took = (performance.now() - start) / 1000;
    const used = process.cpuUsage(cpu);
    await db.close();
    return {
      rate: records / took,
      mbPerSecond: (records * size) / took / 1e6,
      cpuPercent: ((used.user + used.system) / 1e6 / took) * 100,
      batches,
      p50Ms: 0,
      p99Ms: 0,
    };
  });
}

async function openBenchLog(dir: string, fsync: Fsync, observer: LogObserver): Promise<BenchLog> {
  const config = loadConfig({ BROKER_DATA_DIR: dir, BROKER_FSYNC: fsync });
  return openLog(logOptionsFromConfig(config, observer));
}

/** A recording observer: batch count and every acknowledgement latency (seconds). */
function recorder(): { observer: LogObserver; batches(): number; latencies(): Float64Array } {
  let batches = 0;
  let latencies = new Float64Array(1 << 16);
  let n = 0;
  return {
    observer: {
      batchWritten() {
        batches += 1;
      },
      appendAcknowledged(secs) {
        if (n === latencies.length) {
          const grown = new Float64Array(latencies.length * 2);
          grown.set(latencies);
          latencies = grown;
        }
        latencies[n++] = secs;
      },
    },
    batches: () => batches,
    latencies: () => latencies.slice(0, n).sort(),
  };
}

/** `appenders` loops, each appending to its subject as fast as acknowledgements come back, for `seconds`. */
async function runAppenders(
  log: BenchLog,
  seconds: number,
  appenders: number,
  size: number,
  subjectOf: (i: number) => string,
): Promise<{ appended: number; seconds: number }> {
  const body = Buffer.alloc(size, 7);
  let appended = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: appenders }, async (_, i) => {
      const input = { subject: subjectOf(i), body, expirationSeconds: 0 };
      while (performance.now() < end) {
        await log.append(input);
        appended += 1;
      }
    }),
  );
  return { appended, seconds: (performance.now() - start) / 1000 };
}

async function logCell(seconds: number, size: number, fsync: Fsync, appenders: number): Promise<Cell> {
  return withTempDir(async (dir) => {
    const rec = recorder();
    const log = await openBenchLog(dir, fsync, rec.observer);
    try {
      const cpu = process.cpuUsage();
      const run = await runAppenders(log, seconds, appenders, size, (i) => `bench.${i % SUBJECTS}`);
      const used = process.cpuUsage(cpu);
      const latencies = rec.latencies();
      return {
        rate: run.appended / run.seconds,
        mbPerSecond: (run.appended * size) / run.seconds / 1e6,
        cpuPercent: ((used.user + used.system) / 1e6 / run.seconds) * 100,
        batches: rec.batches(),
        p50Ms: quantileOfSorted(latencies, 0.5) * 1000,
        p99Ms: quantileOfSorted(latencies, 0.99) * 1000,
      };
    } finally {
      await log.close();
    }
  });
}

/** One subject, 1024 appenders, one 'live' tailing reader: does the reader keep up? */
async function tailCell(
  seconds: number,
  size: number,
  fsync: Fsync,
): Promise<{ appended: number; delivered: number; seconds: number; lagAtEnd: number }> {
  return withTempDir(async (dir) => {
    const log = await openBenchLog(dir, fsync, recorder().observer);
    try {
      const cursor = await log.tail('bench.tail', 'live');
      let delivered = 0;
      let expected = 1;
      const reader = (async () => {
        for (;;) {
          const batch = await cursor.next(4096);
          const first = batch[0];
          const last = batch[batch.length - 1];
          if (first === undefined || last === undefined) return;
          if (first.offset !== expected)
            throw new Error(`tail gap or duplicate: expected ${expected}, got ${first.offset}`);
          expected = last.offset + 1;
          delivered += batch.length;
        }
      })();
      const run = await runAppenders(log, seconds, 1024, size, () => 'bench.tail');
      const deliveredAtEnd = delivered;
      const lagAtEnd = cursor.lag();
      cursor.close();
      await reader;
      return { appended: run.appended, delivered: deliveredAtEnd, seconds: run.seconds, lagAtEnd };
    } finally {
      await log.close();
    }
  });
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en');

function medianCell(runs: ReadonlyMap<string, Cell[]>, key: string): Cell {
  return medianBy(runs.get(key) ?? [], (c) => c.rate);
}

/** Raw and log cells, interleaved round by round; each cell's median round (by records/s) per row. */
async function writerRows(seconds: number, rounds: number): Promise<string[][]> {
  const runs = new Map<string, Cell[]>();
  const record = (key: string, cell: Cell): void => {
    runs.set(key, [...(runs.get(key) ?? []), cell]);
  };
  for (let round = 1; round <= rounds; round++) {
    for (const { fsync, size } of COMBOS) {
      console.error(`round ${round}: fsync=${fsync} ${size} B`);
      record(`${fsync}/${size}/raw-array`, await rawCeiling(seconds, size, fsync, false));
      record(`${fsync}/${size}/raw-chained`, await rawCeiling(seconds, size, fsync, true));
      for (const appenders of APPENDERS)
        record(`${fsync}/${size}/log-${appenders}`, await logCell(seconds, size, fsync, appenders));
    }
  }
  const rows: string[][] = [];
  for (const { fsync, size } of COMBOS) {
    const rawArray = medianCell(runs, `${fsync}/${size}/raw-array`);
    const rawChained = medianCell(runs, `${fsync}/${size}/raw-chained`);
    const raw = rawChained.rate >= rawArray.rate ? rawChained : rawArray;
    const ofRaw = (c: Cell): string => `${((c.rate / raw.rate) * 100).toFixed(0)}%`;
    for (const [name, cell] of [
      ['array', rawArray],
      ['chained', rawChained],
    ] as const) {
      rows.push([
        fsync,
        `${size} B`,
        `raw ${name} batch of ${RAW_BATCH}`,
        fmt(cell.rate),
        cell.mbPerSecond.toFixed(1),
        ofRaw(cell),
        `${RAW_BATCH}`,
        '–',
        '–',
        cell.cpuPercent.toFixed(0),
      ]);
    }
    for (const appenders of APPENDERS) {
      const cell = medianCell(runs, `${fsync}/${size}/log-${appenders}`);
      const perBatch = cell.batches === 0 ? 0 : (cell.rate * seconds) / cell.batches;
      rows.push([
        fsync,
        `${size} B`,
        `log, ${appenders} appenders`,
        fmt(cell.rate),
        cell.mbPerSecond.toFixed(1),
        ofRaw(cell),
        perBatch.toFixed(1),
        cell.p50Ms.toFixed(2),
        cell.p99Ms.toFixed(2),
        cell.cpuPercent.toFixed(0),
      ]);
    }
  }
  return rows;
}

async function tailRows(seconds: number): Promise<string[][]> {
  const rows: string[][] = [];
  for (const { fsync, size } of COMBOS) {
    const t = await tailCell(seconds, size, fsync);
    const share = `${((t.delivered / Math.max(1, t.appended)) * 100).toFixed(1)}%`;
    rows.push([fsync, `${size} B`, fmt(t.appended / t.seconds), fmt(t.delivered / t.seconds), share, fmt(t.lagAtEnd)]);
  }
  return rows;
}

export async function run(args: string[]): Promise<ScenarioResult> {
  const { values } = parseArgs({
    args,
    options: { ...COMMON_OPTIONS, seconds: { type: 'string', default: '2' }, rounds: { type: 'string', default: '3' } },
  });
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new Error(`--seconds must be a positive number, not ${values.seconds}`);
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new Error(`--rounds must be a positive integer, not ${values.rounds}`);
  const writers = await writerRows(seconds, rounds);
  const tail = await tailRows(seconds);
  return {
    heading: `# log bench: ${seconds} s per cell, median of ${rounds} rounds, node ${process.version}, ${SUBJECTS} subjects, raw = LevelDB batches of ${RAW_BATCH}`,
    options: { seconds, rounds },
    tables: [
      {
        kind: 'cells',
        columns: [
          'fsync',
          'payload',
          'writer',
          'records/s',
          'MB/s (bodies)',
          'log / raw',
          'records per batch',
          'ack p50 ms',
          'ack p99 ms',
          'CPU %',
        ],
        rows: writers,
      },
      {
        kind: 'cells',
        title: 'One subject, 1024 appenders, one live tailing reader:',
        columns: ['fsync', 'payload', 'appended/s', 'delivered/s', 'delivered / appended', 'lag at end'],
        rows: tail,
      },
    ],
  };
}
