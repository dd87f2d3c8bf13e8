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
import { ClassicLevel } from 'classic-level';
import { loadConfig, type Log, type LogObserver } from '../core/index.js';
import { logOptionsFromConfig, openLog } from '../log/index.js';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '2' }, rounds: { type: 'string', default: '3' } },
});
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
if (!Number.isFinite(SECONDS) || SECONDS <= 0)
  throw new Error(`--seconds must be a positive number, not ${values.seconds}`);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1)
  throw new Error(`--rounds must be a positive integer, not ${values.rounds}`);

const SUBJECTS = 8;
const RAW_BATCH = 1000;
const RECORD_HEADER = 12; // publishedAtMs (8) + expirationSeconds (4), as the log stores a record

type Fsync = 'batch' | 'never';

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

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]! * 1000;
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
async function rawCeiling(size: number, fsync: Fsync, chained: boolean): Promise<Cell> {
  return withTempDir(async (dir) => {
    const db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    await db.open();
    const body = Buffer.alloc(size, 7);
    const offsets = new Array<number>(SUBJECTS).fill(0);
    let records = 0;
    let batches = 0;
    const cpu = process.cpuUsage();
    const start = performance.now();
    const end = start + SECONDS * 1000;
    const record = (i: number): { key: Buffer; value: Buffer } => {
      const s = (records + i) % SUBJECTS;
      offsets[s] = offsets[s]! + 1;
      const value = Buffer.allocUnsafe(RECORD_HEADER + size);
      value.writeDoubleBE(Date.now(), 0);
      value.writeInt32BE(0, 8);
      value.set(body, RECORD_HEADER);
      return { key: recordKey(`bench.${s}`, offsets[s]!), value };
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
    const seconds = (performance.now() - start) / 1000;
    const used = process.cpuUsage(cpu);
    await db.close();
    return {
      rate: records / seconds,
      mbPerSecond: (records * size) / seconds / 1e6,
      cpuPercent: ((used.user + used.system) / 1e6 / seconds) * 100,
      batches,
      p50Ms: 0,
      p99Ms: 0,
    };
  });
}

async function openBenchLog(dir: string, fsync: Fsync, observer: LogObserver): Promise<Log> {
  const config = loadConfig({ BROKER_DATA_DIR: dir, BROKER_FSYNC: fsync });
  return openLog(logOptionsFromConfig(config, observer));
}

/** A recording observer: batch count and every acknowledgement latency (seconds). */
function recorder(): { observer: LogObserver; batches(): number; latencies(): Float64Array; reset(): void } {
  let batches = 0;
  let latencies = new Float64Array(1 << 16);
  let n = 0;
  return {
    observer: {
      batchWritten() {
        batches += 1;
      },
      appendAcknowledged(seconds) {
        if (n === latencies.length) {
          const grown = new Float64Array(latencies.length * 2);
          grown.set(latencies);
          latencies = grown;
        }
        latencies[n++] = seconds;
      },
    },
    batches: () => batches,
    latencies: () => latencies.slice(0, n).sort(),
    reset() {
      batches = 0;
      n = 0;
    },
  };
}

/** `appenders` loops, each appending to its subject as fast as acknowledgements come back, for SECONDS. */
async function runAppenders(
  log: Log,
  appenders: number,
  size: number,
  subjectOf: (i: number) => string,
): Promise<{ appended: number; seconds: number }> {
  const body = Buffer.alloc(size, 7);
  let appended = 0;
  const start = performance.now();
  const end = start + SECONDS * 1000;
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

async function logCell(size: number, fsync: Fsync, appenders: number): Promise<Cell> {
  return withTempDir(async (dir) => {
    const rec = recorder();
    const log = await openBenchLog(dir, fsync, rec.observer);
    try {
      const cpu = process.cpuUsage();
      const { appended, seconds } = await runAppenders(log, appenders, size, (i) => `bench.${i % SUBJECTS}`);
      const used = process.cpuUsage(cpu);
      const latencies = rec.latencies();
      return {
        rate: appended / seconds,
        mbPerSecond: (appended * size) / seconds / 1e6,
        cpuPercent: ((used.user + used.system) / 1e6 / seconds) * 100,
        batches: rec.batches(),
        p50Ms: percentile(latencies, 0.5),
        p99Ms: percentile(latencies, 0.99),
      };
    } finally {
      await log.close();
    }
  });
}

/** One subject, 1024 appenders, one 'live' tailing reader: does the reader keep up? */
async function tailCell(
  size: number,
  fsync: Fsync,
): Promise<{ appended: number; delivered: number; seconds: number; lagAtEnd: number }> {
  return withTempDir(async (dir) => {
    const rec = recorder();
    const log = await openBenchLog(dir, fsync, rec.observer);
    try {
      const cursor = await log.tail('bench.tail', 'live');
      let delivered = 0;
      let expected = 1;
      const reader = (async () => {
        for (;;) {
          const batch = await cursor.next(4096);
          if (batch.length === 0) return;
          if (batch[0]!.offset !== expected)
            throw new Error(`tail gap or duplicate: expected ${expected}, got ${batch[0]!.offset}`);
          expected = batch[batch.length - 1]!.offset + 1;
          delivered += batch.length;
        }
      })();
      const { appended, seconds } = await runAppenders(log, 1024, size, () => 'bench.tail');
      const deliveredAtEnd = delivered;
      const lagAtEnd = cursor.lag();
      cursor.close();
      await reader;
      return { appended, delivered: deliveredAtEnd, seconds, lagAtEnd };
    } finally {
      await log.close();
    }
  });
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en');

function median<T extends { rate: number }>(cells: readonly T[]): T {
  return [...cells].sort((a, b) => a.rate - b.rate)[Math.floor((cells.length - 1) / 2)]!;
}

const APPENDERS = [1, 64, 1024] as const;
const COMBOS = (['never', 'batch'] as const).flatMap((fsync) => [100, 1024].map((size) => ({ fsync, size })));

console.log(
  `# log bench: ${SECONDS} s per cell, median of ${ROUNDS} rounds, node ${process.version}, ${SUBJECTS} subjects, raw = LevelDB batches of ${RAW_BATCH}\n`,
);
const runs = new Map<string, Cell[]>();
const record = (key: string, cell: Cell): void => {
  runs.set(key, [...(runs.get(key) ?? []), cell]);
};
for (let round = 1; round <= ROUNDS; round++) {
  for (const { fsync, size } of COMBOS) {
    console.error(`round ${round}: fsync=${fsync} ${size} B`);
    record(`${fsync}/${size}/raw-array`, await rawCeiling(size, fsync, false));
    record(`${fsync}/${size}/raw-chained`, await rawCeiling(size, fsync, true));
    for (const appenders of APPENDERS)
      record(`${fsync}/${size}/log-${appenders}`, await logCell(size, fsync, appenders));
  }
}

const rows: string[] = [];
for (const { fsync, size } of COMBOS) {
  const rawArray = median(runs.get(`${fsync}/${size}/raw-array`)!);
  const rawChained = median(runs.get(`${fsync}/${size}/raw-chained`)!);
  const raw = rawChained.rate >= rawArray.rate ? rawChained : rawArray;
  for (const [name, cell] of [
    ['array', rawArray],
    ['chained', rawChained],
  ] as const) {
    rows.push(
      `| ${fsync} | ${size} B | raw ${name} batch of ${RAW_BATCH} | ${fmt(cell.rate)} | ${cell.mbPerSecond.toFixed(1)} | ${((cell.rate / raw.rate) * 100).toFixed(0)}% | ${RAW_BATCH} | – | – | ${cell.cpuPercent.toFixed(0)} |`,
    );
  }
  for (const appenders of APPENDERS) {
    const cell = median(runs.get(`${fsync}/${size}/log-${appenders}`)!);
    const perBatch = cell.batches === 0 ? 0 : (cell.rate * SECONDS) / cell.batches;
    rows.push(
      `| ${fsync} | ${size} B | log, ${appenders} appenders | ${fmt(cell.rate)} | ${cell.mbPerSecond.toFixed(1)} | ${((cell.rate / raw.rate) * 100).toFixed(0)}% | ${perBatch.toFixed(1)} | ${cell.p50Ms.toFixed(2)} | ${cell.p99Ms.toFixed(2)} | ${cell.cpuPercent.toFixed(0)} |`,
    );
  }
}

const tailRows: string[] = [];
for (const { fsync, size } of COMBOS) {
  const t = await tailCell(size, fsync);
  tailRows.push(
    `| ${fsync} | ${size} B | ${fmt(t.appended / t.seconds)} | ${fmt(t.delivered / t.seconds)} | ${((t.delivered / Math.max(1, t.appended)) * 100).toFixed(1)}% | ${fmt(t.lagAtEnd)} |`,
  );
}

console.log(
  '| fsync | payload | writer | records/s | MB/s (bodies) | log / raw | records per batch | ack p50 ms | ack p99 ms | CPU % |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) console.log(r);
console.log('\nOne subject, 1024 appenders, one live tailing reader:\n');
console.log('| fsync | payload | appended/s | delivered/s | delivered / appended | lag at end |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const r of tailRows) console.log(r);
