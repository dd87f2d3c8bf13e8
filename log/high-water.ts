import { readFile, open, rename, truncate, unlink, type FileHandle } from 'node:fs/promises';
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
/**
 * How far ahead of a subject's head a reservation reaches: a synced frame once per this many ids per subject, and at
 * most this many ids skipped per subject after a power cut or kernel crash (never after a process crash).
 */
export const RESERVATION_STEP = 10_000;
/** Subjects whose reservation is kept in memory; past it the map is cleared (each then reserves again once). */
const RESERVED_IN_MEMORY = 65_536;
/** Where Linux tells one boot from the next: the page cache (unsynced writes) survives a process crash, not a boot. */
const BOOT_ID_PATH = '/proc/sys/kernel/random/boot_id';

/**
 * A frame whose first entry has the empty subject (no subject is empty) is not marks: its mark is the kind. Frames
 * without such an entry are exact marks (every frame before reservations existed is one).
 */
export const FrameKind = {
  /** The entries are reservations: ids up to each may have been acknowledged. Always synced. */
  reserved: 1,
  /** The next entry's subject is the boot id of the process that rewrote the file (the last frame of a rewrite). */
  boot: 2,
  /** Written last at a clean close, after a sync: every frame before it is durable. */
  clean: 3,
} as const;

/** What the side file holds: the highest offset ever acknowledged per subject, and how much of a torn tail it dropped. */
export interface HighWaterMarks {
  readonly marks: Map<string, number>;
  /** Bytes at the end that were not a whole, checksummed frame (a write torn by a crash), ignored. */
  readonly tornBytes: number;
}

/** The frames as written, before they are judged (see `resolveMarks`). */
interface FileContents {
  /** Exact marks: each write's acknowledged heads, written before the acks but synced only at a rewrite or close. */
  readonly marks: Map<string, number>;
  /** Synced reservations, at or above every acknowledged head of their subject. */
  readonly reserved: Map<string, number>;
  boot: string | undefined;
  /** The last frame is a clean close. */
  clean: boolean;
}

const emptyContents = (): FileContents => ({ marks: new Map(), reserved: new Map(), boot: undefined, clean: false });

/**
 * The marks a recovery trusts. The exact marks are whole when the page cache the process wrote them to survived:
 * the same boot (a process crash or kill) or a clean close. Otherwise (a power cut or kernel crash, or a disk moved
 * to another machine) unsynced frames may be gone, and each subject's synced reservation stands in as its mark:
 * the ids between its acknowledged head and the reservation are skipped, never reissued.
 */
function resolveMarks(contents: FileContents, bootId: string): Map<string, number> {
  const marks = contents.marks;
  if (contents.clean || (bootId !== '' && contents.boot === bootId)) return marks;
  for (const [subject, reserved] of contents.reserved) marks.set(subject, Math.max(marks.get(subject) ?? 0, reserved));
  return marks;
}

let bootIdRead: Promise<string> | undefined;
/** This boot's id; '' where the system does not say (then only a clean close makes the exact marks trusted). */
export function currentBootId(): Promise<string> {
  bootIdRead ??= readFile(BOOT_ID_PATH, 'utf8').then(
    (id) => id.trim(),
    () => '',
  );
  return bootIdRead;
}

/**
 * Frames: payload length (u32 BE) · CRC-32 of the payload (u32 BE) · payload, the payload being entries of
 * subject length (u16 BE) · subject UTF-8 · mark (u64 BE). A later entry for a subject supersedes an earlier one
 * (a failed batch's marks are put back that way). `kind` prefixes the entry ('', kind) that marks a special frame.
 */
export function encodeFrame(entries: Iterable<readonly [string, number]>, kind?: number): Buffer {
  const parts: Buffer[] = [];
  let size = 0;
  const all: Iterable<readonly [string, number]> = kind === undefined ? entries : [['', kind], ...entries];
  for (const [subject, mark] of all) {
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
export function decodeFrames(data: Buffer, bootId = ''): HighWaterMarks {
  const contents = emptyContents();
  const { used } = decodeWholeFrames(data, contents);
  return { marks: resolveMarks(contents, bootId), tornBytes: data.length - used };
}

/** Decodes the whole frames at the start of `data` into `into`; `damaged` when one failed its checksum or entries. */
function decodeWholeFrames(data: Buffer, into: FileContents): { used: number; damaged: boolean } {
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

function decodeEntries(payload: Buffer, into: FileContents): boolean {
  const found: Array<[string, number]> = [];
  let at = 0;
  while (at < payload.length) {
    if (at + 2 > payload.length) return false;
    const len = payload.readUInt16BE(at);
    if (at + 2 + len + 8 > payload.length) return false;
    found.push([payload.toString('utf8', at + 2, at + 2 + len), readUint64BE(payload, at + 2 + len)]);
    at += 2 + len + 8;
  }
  const [first] = found;
  const kind = first !== undefined && first[0] === '' ? first[1] : undefined;
  into.clean = kind === FrameKind.clean;
  if (kind === FrameKind.boot) into.boot = found[1]?.[0];
  const target = kind === undefined ? into.marks : kind === FrameKind.reserved ? into.reserved : undefined;
  if (target !== undefined) for (const [subject, mark] of found) if (subject !== '') target.set(subject, mark);
  return true;
}

/**
 * Reads the side file of a data dir without changing it (a missing file has no marks), streaming: it holds a chunk
 * (or one frame) of the file at a time, besides the marks themselves. The marks are the ones a recovery trusts on
 * this boot (`resolveMarks`).
 */
export async function readHighWater(dataDir: string): Promise<HighWaterMarks> {
  const { contents, tornBytes } = await readContents(dataDir);
  return { marks: resolveMarks(contents, await currentBootId()), tornBytes };
}

async function readContents(dataDir: string): Promise<{ contents: FileContents; tornBytes: number }> {
  let handle: FileHandle;
  try {
    handle = await open(join(dataDir, HIGH_WATER_FILE), 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { contents: emptyContents(), tornBytes: 0 };
    throw err;
  }
  try {
    return await readFrames(handle);
  } finally {
    await handle.close();
  }
}

async function readFrames(handle: FileHandle): Promise<{ contents: FileContents; tornBytes: number }> {
  const contents = emptyContents();
  const fileSize = (await handle.stat()).size;
  let at = 0; // file position of pending[0]: every byte before it is whole frames
  let pending = Buffer.alloc(0);
  for (;;) {
    const { used, damaged } = decodeWholeFrames(pending, contents);
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
  return { contents, tornBytes: fileSize - at };
}

/**
 * The high-water mark of every subject, kept outside LevelDB's write-ahead log: a torn or damaged WAL can lose the
 * tail of the log's batches, and with them the heads, but not this file. Every group commit appends the heads it
 * changed (exact marks) before its appends are acknowledged, without a sync of its own: a process crash leaves them
 * in the page cache. Against a power cut, which can take unsynced writes, each subject's head is also reserved
 * ahead, RESERVATION_STEP ids at a time, in a synced frame written with the commit that passes the last reservation
 * (fsync 'batch'); so one commit in RESERVATION_STEP per subject syncs this file, the rest only LevelDB's WAL. At
 * open the file is rewritten atomically (temp file, fsync, rename, fsync of the directory) with one entry per subject
 * and this boot's id, dropping any torn tail; it is rewritten the same way when it grows past REWRITE_BYTES. A clean
 * close syncs it and says so. Per subject only its reservation stays in memory (bounded, RESERVED_IN_MEMORY).
 */
export class HighWaterFile {
  private size = 0;
  /** A write failed, maybe partly: the next one first cuts the file back to `size`, so no torn frame hides later ones. */
  private torn = false;
  /** The last write started: the next one waits for it. */
  private tail: Promise<void> = Promise.resolve();
  /** Each subject's reservation written (or being written) in this run; a subject missing reserves again. */
  private readonly reserved = new Map<string, number>();

  private constructor(
    private readonly dataDir: string,
    private handle: FileHandle,
    readonly tornBytes: number,
    private readonly bootId: string,
  ) {}

  /** Reads the file, rewrites it compacted with the marks a recovery trusts, and opens it for appending. */
  static async open(dataDir: string): Promise<HighWaterFile> {
    const bootId = await currentBootId();
    const { contents, tornBytes } = await readContents(dataDir);
    const marks = resolveMarks(contents, bootId);
    const handle = await rewriteOrKeep(dataDir, { marks, reserved: new Map(), boot: bootId }, tornBytes);
    const file = new HighWaterFile(dataDir, handle, tornBytes, bootId);
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

  /**
   * Appends the marks of one group commit; with `sync` (fsync 'batch'), the subjects whose head passed their
   * reservation get a new one in a synced frame. The writes are chained, so the file holds them in call order.
   */
  write(entries: ReadonlyArray<readonly [string, number]>, sync: boolean): Promise<void> {
    const due = sync ? this.due(entries) : undefined;
    const done = this.tail.then(() => this.append(entries, due));
    this.tail = done.catch(() => {
      // Unwritten reservations are forgotten, so the next commit of those subjects writes them again.
      if (due !== undefined) for (const [subject] of due) this.reserved.delete(subject);
    });
    return done;
  }

  /** The reservations this write must make durable (taken now, so a write in flight is not repeated by the next). */
  private due(entries: ReadonlyArray<readonly [string, number]>): Array<readonly [string, number]> | undefined {
    let due: Array<readonly [string, number]> | undefined;
    for (const [subject, head] of entries) {
      if (head <= (this.reserved.get(subject) ?? 0)) continue;
      if (this.reserved.size >= RESERVED_IN_MEMORY) this.reserved.clear();
      this.reserved.set(subject, head + RESERVATION_STEP);
      (due ??= []).push([subject, head + RESERVATION_STEP]);
    }
    return due;
  }

  private async append(
    entries: ReadonlyArray<readonly [string, number]>,
    due: ReadonlyArray<readonly [string, number]> | undefined,
  ): Promise<void> {
    try {
      if (this.torn) {
        await this.handle.truncate(this.size);
        this.torn = false;
      }
      if (this.size > REWRITE_BYTES) return await this.compact(entries, due);
      const marks = encodeFrame(entries);
      const frame = due === undefined ? marks : Buffer.concat([marks, encodeFrame(due, FrameKind.reserved)]);
      await this.handle.write(frame, 0, frame.length);
      this.size += frame.length;
      if (due !== undefined) await this.handle.datasync();
    } catch (err) {
      this.torn = true;
      throw err;
    }
  }

  /** Rewrites the file from its own frames plus these, one entry per subject and kind; the maps are dropped after. */
  private async compact(
    entries: ReadonlyArray<readonly [string, number]>,
    due: ReadonlyArray<readonly [string, number]> | undefined,
  ): Promise<void> {
    const { contents } = await readContents(this.dataDir);
    for (const [subject, mark] of entries) contents.marks.set(subject, mark);
    for (const [subject, reserved] of due ?? []) contents.reserved.set(subject, reserved);
    const old = this.handle;
    this.handle = await rewrite(this.dataDir, { ...contents, boot: this.bootId });
    await old.close();
    this.size = (await this.handle.stat()).size;
  }

  /** Syncs the file and ends it with a clean-close frame (synced too): its exact marks are then trusted on any boot. */
  async close(): Promise<void> {
    await this.tail;
    try {
      if (this.torn) await this.handle.truncate(this.size);
      await this.handle.datasync();
      await this.handle.write(encodeFrame([], FrameKind.clean));
      await this.handle.datasync();
    } catch {
      // Not marked clean: on this boot the exact marks are trusted anyway, after a reboot the reservations stand.
    } finally {
      await this.handle.close();
    }
  }
}

/** What a rewrite writes: exact marks, then reservations, then the boot id (last: a torn rewrite never claims a boot). */
interface Rewritten {
  readonly marks: ReadonlyMap<string, number>;
  readonly reserved: ReadonlyMap<string, number>;
  readonly boot: string;
}

/**
 * The rewrite at open needs room for a second copy of the file. On a full disk (ENOSPC) the old file is kept and
 * appended to instead, its torn tail (if any) cut off first, which frees space rather than taking it: the broker
 * still opens, so compaction can run and free space. The next rewrite (past REWRITE_BYTES, or the next open) compacts it.
 */
async function rewriteOrKeep(dataDir: string, contents: Rewritten, tornBytes: number): Promise<FileHandle> {
  try {
    return await rewrite(dataDir, contents);
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
    const handle = await open(path, 'a');
    // The kept file's frames were judged for another run: this boot's frame makes the recovery's marks the base
    // (the recovery raised the heads to them). Without room for it, a later crash on this boot may skip ids.
    await handle.write(encodeFrame([[contents.boot, 0]], FrameKind.boot)).catch(() => undefined);
    return handle;
  }
}

/**
 * Writes every mark and reservation to a temp file (frames of REWRITE_FRAME_ENTRIES entries) and the boot frame,
 * syncs it, renames it over the side file, syncs the directory; opens it to append.
 */
async function rewrite(dataDir: string, contents: Rewritten): Promise<FileHandle> {
  const path = join(dataDir, HIGH_WATER_FILE);
  const temp = `${path}.tmp`;
  const tmp = await open(temp, 'w');
  try {
    await writeFrames(tmp, contents.marks, undefined);
    await writeFrames(tmp, contents.reserved, FrameKind.reserved);
    await tmp.write(encodeFrame([[contents.boot, 0]], FrameKind.boot));
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

async function writeFrames(
  to: FileHandle,
  marks: ReadonlyMap<string, number>,
  kind: number | undefined,
): Promise<void> {
  let entries: Array<readonly [string, number]> = [];
  for (const entry of marks) {
    entries.push(entry);
    if (entries.length < REWRITE_FRAME_ENTRIES) continue;
    await to.write(encodeFrame(entries, kind));
    entries = [];
  }
  if (entries.length > 0) await to.write(encodeFrame(entries, kind));
}
