// What a power cut (or kernel crash) can leave of a data dir whose broker was killed: the high-water side file
// without any frame its writer did not sync (the exact marks written after the last rewrite), as seen from another
// boot, and LevelDB's write-ahead logs torn (here: emptied, the worst case a damaged disk gives).
import { readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FrameKind, HIGH_WATER_FILE, encodeFrame } from '../high-water.js';

/** The whole frames of a side file, each with its kind (undefined: exact marks). */
function frames(data: Buffer): Array<{ frame: Buffer; kind: number | undefined }> {
  const found: Array<{ frame: Buffer; kind: number | undefined }> = [];
  let at = 0;
  while (at + 8 <= data.length) {
    const end = at + 8 + data.readUInt32BE(at);
    if (end > data.length) break;
    const frame = data.subarray(at, end);
    const special = frame.length >= 8 + 10 && frame.readUInt16BE(8) === 0;
    found.push({ frame, kind: special ? Number(frame.readBigUInt64BE(10)) : undefined });
    at = end;
  }
  return found;
}

/** Drops the unsynced frames (exact marks after the rewrite's boot frame) and records another boot. */
export async function loseUnsyncedHighWater(dataDir: string): Promise<void> {
  const path = join(dataDir, HIGH_WATER_FILE);
  const kept: Buffer[] = [];
  let afterRewrite = false;
  for (const { frame, kind } of frames(await readFile(path))) {
    if (kind === FrameKind.boot) {
      afterRewrite = true;
      kept.push(encodeFrame([['a boot before the power cut', 0]], FrameKind.boot));
    } else if (!afterRewrite || kind === FrameKind.reserved) kept.push(frame);
  }
  await writeFile(path, Buffer.concat(kept));
}

/** Empties every LevelDB write-ahead log of the dir: the batches not yet in table files are gone. */
export async function emptyWals(dataDir: string): Promise<number> {
  const wals = (await readdir(dataDir)).filter((name) => /^\d+\.log$/.test(name));
  for (const wal of wals) await truncate(join(dataDir, wal), 0);
  return wals.length;
}
