// A byte flipped inside a record in a LevelDB table file, as a failing disk or a bad copy leaves it: LevelDB does not
// verify its block checksums on reads (classic-level never sets ReadOptions.verify_checksums), so only the record's
// own checksum can catch it. For the log's checksum tests and the api's DATA_LOSS e2e test.
import { open, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createDb } from '../storage.js';

/** classic-level's compactRange, which level's typings leave out (the class is the same, see log/README.md). */
interface Compactable {
  compactRange(start: Buffer, end: Buffer): Promise<void>;
}

/**
 * Writes every key of a closed data dir into table files (`*.ldb`): LevelDB flushes its memtable and compacts every
 * level over the whole key range, so nothing is left only in the write-ahead log.
 */
export async function compactIntoTables(dataDir: string): Promise<void> {
  const db = createDb(dataDir);
  await db.open();
  try {
    await (db as unknown as Compactable).compactRange(Buffer.from([0x00]), Buffer.alloc(8, 0xff));
  } finally {
    await db.close();
  }
}

/**
 * Flips every bit of the byte in the middle of `needle` (bytes of one record's body: random bytes, which LevelDB
 * stores uncompressed) where it occurs in a table file of a closed data dir. Throws unless it occurs exactly once.
 */
export async function flipByteInTables(dataDir: string, needle: Buffer): Promise<{ file: string; at: number }> {
  const found: Array<{ file: string; at: number }> = [];
  for (const name of (await readdir(dataDir)).filter((n) => n.endsWith('.ldb'))) {
    const file = join(dataDir, name);
    const bytes = await readFile(file);
    for (let at = bytes.indexOf(needle); at >= 0; at = bytes.indexOf(needle, at + 1))
      found.push({ file, at: at + (needle.length >> 1) });
  }
  const place = found[0];
  if (place === undefined || found.length > 1) {
    throw new Error(`the needle occurs ${found.length} times in the table files of ${dataDir}, not once`);
  }
  const handle = await open(place.file, 'r+');
  try {
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, place.at);
    byte[0] = (byte[0] ?? 0) ^ 0xff;
    await handle.write(byte, 0, 1, place.at);
  } finally {
    await handle.close();
  }
  return place;
}
