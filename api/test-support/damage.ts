// Real damage to a stopped broker's LevelDB files, as a torn write or a failing disk leaves them: the write-ahead
// log cut short or overwritten in its middle, a table file removed. For tests and the fault-injection suite.
import { open, readdir, rm, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';

/** LevelDB's write-ahead logs (`NNNNNN.log`; `LOG` is its info log), newest last. */
export async function walFiles(dataDir: string): Promise<string[]> {
  const names = (await readdir(dataDir)).filter((n) => /^\d+\.log$/.test(n)).sort();
  return names.map((n) => join(dataDir, n));
}

/** LevelDB's table files (`NNNNNN.ldb`, or `.sst` from older builds). */
export async function tableFiles(dataDir: string): Promise<string[]> {
  const names = (await readdir(dataDir)).filter((n) => /^\d+\.(ldb|sst)$/.test(n)).sort();
  return names.map((n) => join(dataDir, n));
}

/** The newest WAL: the one the last writes before a crash went to. Throws when there is none. */
export async function currentWal(dataDir: string): Promise<string> {
  const wal = (await walFiles(dataDir)).at(-1);
  if (wal === undefined) throw new Error(`no write-ahead log in ${dataDir}`);
  return wal;
}

/** Cuts the file to `fraction` of its length (a torn tail); resolves with the bytes cut. */
export async function truncateFile(path: string, fraction: number): Promise<number> {
  const size = (await stat(path)).size;
  const keep = Math.floor(size * fraction);
  await truncate(path, keep);
  return size - keep;
}

/** Overwrites `length` bytes at `fraction` of the file with 0xA5 (a damaged sector in the middle). */
export async function overwriteBytes(path: string, fraction: number, length: number): Promise<void> {
  const file = await open(path, 'r+');
  try {
    const at = Math.floor((await file.stat()).size * fraction);
    await file.write(Buffer.alloc(length, 0xa5), 0, length, at);
  } finally {
    await file.close();
  }
}

/** Removes the first table file; resolves with its path. Throws when there is none. */
export async function removeTableFile(dataDir: string): Promise<string> {
  const table = (await tableFiles(dataDir))[0];
  if (table === undefined) throw new Error(`no table file in ${dataDir}`);
  await rm(table);
  return table;
}
