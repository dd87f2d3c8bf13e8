// npm run bench:log [-- --seconds 3]
// Appends/s and MB/s of the log (group commit) for 100 B and 1 KiB payloads with 1, 64 and 1024 concurrent appenders,
// fsync batch and never, next to the raw ceiling: LevelDB batches of 1000 of the same records on the same machine,
// in the same run. Also: whether one subject's tailing reader keeps up with the append rate.
import { ClassicLevel } from 'classic-level';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openLog } from '../log/index.js';
import { TEST_LOG_DEFAULTS } from '../log/test-support/temp-log.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '3' } } });
const SECONDS = Number(values.seconds);

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'bench-log-'));
}

/** Raw ceiling: batches of 1000 puts with keys like the log's (subject + big-endian offset). */
async function rawCeiling(size: number, sync: boolean): Promise<number> {
  const dir = await tempDir();
  const db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  const body = Buffer.alloc(size + 12, 7);
  const prefix = Buffer.from('\u0001bench\u0000');
  let offset = 0;
  const end = performance.now() + SECONDS * 1000;
  const start = performance.now();
  while (performance.now() < end) {
    const ops = [];
    for (let i = 0; i < 1000; i++) {
      const key = Buffer.allocUnsafe(prefix.length + 8);
      prefix.copy(key);
      key.writeBigUInt64BE(BigInt(++offset), prefix.length);
      ops.push({ type: 'put' as const, key, value: body });
    }
    await db.batch(ops, { sync });
  }
  const rate = offset / ((performance.now() - start) / 1000);
  await db.close();
  await rm(dir, { recursive: true, force: true });
  return rate;
}

async function logRate(size: number, fsync: 'batch' | 'never', concurrency: number): Promise<{ rate: number; readerRate: number }> {
  const dir = await tempDir();
  const log = await openLog({ ...TEST_LOG_DEFAULTS, dataDir: dir, fsync });
  const body = Buffer.alloc(size, 7);
  const cursor = await log.tail('bench', 'live');
  let delivered = 0;
  let stop = false;
  const reader = (async () => {
    while (!stop) {
      const batch = await cursor.next();
      if (batch.length === 0) return;
      delivered += batch.length;
    }
  })();
  let appended = 0;
  const end = performance.now() + SECONDS * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        await log.append({ subject: 'bench', body, expirationSeconds: 0 });
        appended += 1;
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  const deliveredAtEnd = delivered;
  stop = true;
  cursor.close();
  await reader;
  await log.close();
  await rm(dir, { recursive: true, force: true });
  return { rate: appended / elapsed, readerRate: deliveredAtEnd / elapsed };
}

const rows: string[] = [];
console.log(`log micro-benchmark: ${SECONDS}s per cell, node ${process.version}`);
for (const fsync of ['never', 'batch'] as const) {
  for (const size of [100, 1024]) {
    const raw = await rawCeiling(size, fsync === 'batch');
    for (const concurrency of [1, 64, 1024]) {
      const { rate, readerRate } = await logRate(size, fsync, concurrency);
      const row = `| ${fsync} | ${size} B | ${concurrency} | ${Math.round(rate).toLocaleString('en')} | ${((rate * size) / 1e6).toFixed(1)} | ${Math.round(raw).toLocaleString('en')} | ${((rate / raw) * 100).toFixed(0)}% | ${((readerRate / rate) * 100).toFixed(0)}% |`;
      rows.push(row);
      console.log(row);
    }
  }
}
console.log('\n| fsync | payload | appenders | log appends/s | MB/s | raw LevelDB batch-1000 records/s | log / raw | tailing reader / appends |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) console.log(r);
