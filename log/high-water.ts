import { open, rename, truncate, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { readUint64BE, writeUint64BE } from './keys.js';

/** The side file's name in the data dir (LevelDB ignores files it did not create). */
export const HIGH_WATER_FILE = 'HIGH-WATER';
/** Past this size the next write rewrites the file with one entry per subject instead of appending. */
const REWRITE_BYTES = 16 * 1024 * 1024;
const FRAME_HEADER = 8;
/** Bytes read at a time when the file is read back (a frame larger than this is read whole). */
const READ_CHUNK = 256 * 1024;
/** Entries per frame when the file is rewritten, so no buffer holds every subject at once. */
const REWRITE_FRAME_ENTRIES = 4096;

/** What the side file holds: the highest offset ever acknowledged per subject, and how much of a torn tail it dropped. */
export interface HighWaterMarks {
  readonly marks: Map<string, number>;
  /** Bytes at the end that were not a whole, checksummed frame (a write torn by a crash), ignored. */
  readonly tornBytes: number;
}

/**
 * A later entry for a subject supersedes an earlier one (a failed batch's marks are put back that way).
 * Frames: payload length (u32 BE) · CRC-32 of the payload (u32 BE) · payload, the payload being entries of
 * subject length (u16 BE) · subject UTF-8 · mark (u64 BE). A later entry for a subject supersedes an earlier one.
 */
export function encodeFrame(entries: Iterable<readonly [string, number]>): Buffer {
  const parts: Buffer[] = [];
  let size = 0;
  for (const [subject, mark] of entries) {
    const len = Buffer.byteLength(subject, 'utf8');
    const entry = Buffer.allocUnsafe(2 + len + 8);
    entry.writeUInt16BE(len, 0);
    entry.write(subject, 2, 'utf8');
    writeUint64BE(entry, mark, 2 + len);
    parts.push(entry);
    size += entry.length;
  }
  const frame = Buffer.allocUnsafe(FRAME_HEADER + size);
  frame.writeUInt32BE(size, 0);
  let at = FRAME_HEADER;
  for (const part of parts) at += part.copy(frame, at);
  frame.writeUInt32BE(crc32(frame.subarray(FRAME_HEADER)), 4);
  return frame;
}

/** Reads frames up to the first one that is incomplete or fails its checksum: that one and the rest are a torn tail. */
export function decodeFrames(data: Buffer): HighWaterMarks {
  const marks = new Map<string, number>();
  const { used } = decodeWholeFrames(data, marks);
  return { marks, tornBytes: data.length - used };
}

/** Decodes the whole frames at the start of `data` into `into`; `damaged` when one failed its checksum or entries. */
function decodeWholeFrames(data: Buffer, into: Map<string, number>): { used: number; damaged: boolean } {
  let at = 0;
  while (at + FRAME_HEADER <= data.length) {
    const end = at + FRAME_HEADER + data.readUInt32BE(at);
    if (end > data.length) break;
    const payload = data.subarray(at + FRAME_HEADER, end);
    if (crc32(payload) !== data.readUInt32BE(at + 4) || !decodeEntries(payload, into)) {
      return { used: at, damaged: true };
    }
    at = end;
  }
  return { used: at, damaged: false };
}

function decodeEntries(payload: Buffer, into: Map<string, number>): boolean {
  const found: Array<[string, number]> = [];
  let at = 0;
  while (at < payload.length) {
    if (at + 2 > payload.length) return false;
    const len = payload.readUInt16BE(at);
    if (at + 2 + len + 8 > payload.length) return false;
    found.push([payload.toString('utf8', at + 2, at + 2 + len), readUint64BE(payload, at + 2 + len)]);
    at += 2 + len + 8;
  }
  for (const [subject, mark] of found) into.set(subject, mark);
  return true;
}

/**
 * Reads the side file of a data dir without changing it (a missing file has no marks), streaming: it holds a chunk
 * (or one frame) of the file at a time, besides the marks themselves.
 */
export async function readHighWater(dataDir: string): Promise<HighWaterMarks> {
  let handle: FileHandle;
  try {
    handle = await open(join(dataDir, HIGH_WATER_FILE), 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { marks: new Map(), tornBytes: 0 };
    throw err;
  }
  try {
    return await readFrames(handle);
  } finally {
    await handle.close();
  }
}

async function readFrames(handle: FileHandle): Promise<HighWaterMarks> {
  const marks = new Map<string, number>();
  const fileSize = (await handle.stat()).size;
  let at = 0; // file position of pending[0]: every byte before it is whole frames
  let pending = Buffer.alloc(0);
  for (;;) {
    const { used, damaged } = decodeWholeFrames(pending, marks);
    at += used;
    pending = pending.subarray(used);
    if (damaged) break;
    const next = at + pending.length;
    const frameEnd = pending.length >= FRAME_HEADER ? at + FRAME_HEADER + pending.readUInt32BE(0) : 0;
    // A frame that would end past the end of the file is a torn tail: nothing after it is read.
    if (frameEnd > fileSize) break;
    const want = Math.min(Math.max(READ_CHUNK, frameEnd - next), fileSize - next);
    if (want <= 0) break;
    const chunk = Buffer.allocUnsafe(want);
    const { bytesRead } = await handle.read(chunk, 0, want, next);
    if (bytesRead === 0) break;
    pending =
      pending.length === 0 ? chunk.subarray(0, bytesRead) : Buffer.concat([pending, chunk.subarray(0, bytesRead)]);
  }
  return { marks, tornBytes: fileSize - at };
}

/**
 * The high-water mark of every subject, kept outside LevelDB's write-ahead log: a torn or damaged WAL can lose the
 * tail of the log's batches, and with them the heads, but not this file, which every group commit appends the heads
 * it changed to (synced with the batch when fsync is 'batch') before the appends are acknowledged. At open it is
 * rewritten atomically (temp file, fsync, rename, fsync of the directory) with one entry per subject, dropping any
 * torn tail; it is rewritten the same way when it grows past REWRITE_BYTES. Nothing per subject stays in memory:
 * a rewrite rebuilds the marks from the file itself (streaming) and drops them once written.
 */
export class HighWaterFile {
  private size = 0;
  /** A write failed, maybe partly: the next one first cuts the file back to `size`, so no torn frame hides later ones. */
  private torn = false;
  /** The last write started: the next one waits for it. */
  private tail: Promise<void> = Promise.resolve();

  private constructor(
    private readonly dataDir: string,
    private handle: FileHandle,
    readonly tornBytes: number,
  ) {}

  /** Reads the file, rewrites it compacted, and opens it for appending. */
  static async open(dataDir: string): Promise<HighWaterFile> {
    const { marks, tornBytes } = await readHighWater(dataDir);
    const file = new HighWaterFile(dataDir, await rewriteOrKeep(dataDir, marks, tornBytes), tornBytes);
    file.size = (await file.handle.stat()).size;
    return file;
  }

  /**
   * Every subject's mark as the file holds it once the writes started so far are done (for the recovery pass),
   * read back from the file; the caller drops the map when done with it.
   */
  async marks(): Promise<Map<string, number>> {
    await this.tail;
    return (await readHighWater(this.dataDir)).marks;
  }

  /** Appends the marks of one group commit (synced when `sync`); the writes are chained, so the file holds them in call order. */
  write(entries: ReadonlyArray<readonly [string, number]>, sync: boolean): Promise<void> {
    const done = this.tail.then(() => this.append(entries, sync));
    this.tail = done.catch(() => undefined);
    return done;
  }

  private async append(entries: ReadonlyArray<readonly [string, number]>, sync: boolean): Promise<void> {
    try {
      if (this.torn) {
        await this.handle.truncate(this.size);
        this.torn = false;
      }
      if (this.size > REWRITE_BYTES) return await this.compact(entries);
      const frame = encodeFrame(entries);
      await this.handle.write(frame, 0, frame.length);
      this.size += frame.length;
      if (sync) await this.handle.datasync();
    } catch (err) {
      this.torn = true;
      throw err;
    }
  }

  /** Rewrites the file from its own frames plus `entries`, one entry per subject; the marks are dropped after. */
  private async compact(entries: ReadonlyArray<readonly [string, number]>): Promise<void> {
    const { marks } = await readHighWater(this.dataDir);
    for (const [subject, mark] of entries) marks.set(subject, mark);
    const old = this.handle;
    this.handle = await rewrite(this.dataDir, marks);
    await old.close();
    this.size = (await this.handle.stat()).size;
  }

  async close(): Promise<void> {
    await this.tail;
    await this.handle.close();
  }
}

/**
 * The rewrite at open needs room for a second copy of the file. On a full disk (ENOSPC) the old file is kept and
 * appended to instead, its torn tail (if any) cut off first, which frees space rather than taking it: the broker
 * still opens, so compaction can run and free space. The next rewrite (past REWRITE_BYTES, or the next open) compacts it.
 */
async function rewriteOrKeep(
  dataDir: string,
  marks: ReadonlyMap<string, number>,
  tornBytes: number,
): Promise<FileHandle> {
  try {
    return await rewrite(dataDir, marks);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    const path = join(dataDir, HIGH_WATER_FILE);
    await unlink(`${path}.tmp`).catch(() => undefined);
    if (tornBytes > 0) {
      const handle = await open(path, 'a');
      const size = (await handle.stat()).size;
      await handle.close();
      await truncate(path, size - tornBytes);
    }
    return open(path, 'a');
  }
}

/**
 * Writes every mark to a temp file (frames of REWRITE_FRAME_ENTRIES entries), syncs it, renames it over the side
 * file, syncs the directory; opens it to append.
 */
async function rewrite(dataDir: string, marks: ReadonlyMap<string, number>): Promise<FileHandle> {
  const path = join(dataDir, HIGH_WATER_FILE);
  const temp = `${path}.tmp`;
  const tmp = await open(temp, 'w');
  try {
    let entries: Array<readonly [string, number]> = [];
    for (const entry of marks) {
      entries.push(entry);
      if (entries.length < REWRITE_FRAME_ENTRIES) continue;
      await tmp.write(encodeFrame(entries));
      entries = [];
    }
    if (entries.length > 0) await tmp.write(encodeFrame(entries));
    await tmp.sync();
  } finally {
    await tmp.close();
  }
  await rename(temp, path);
  const dir = await open(dataDir, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
  return open(path, 'a');
}
