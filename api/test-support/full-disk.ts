// A real, small file system that tests can fill up: a tmpfs mounted on a temp dir (root only). Writes to it fail
// with ENOSPC once fill() has taken the space, and succeed again after free(): the transient full disk of issue 10.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, open, rm, statfs, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface SmallDisk {
  /** Where the tmpfs is mounted. */
  readonly mountPoint: string;
  /** An empty directory on it, for a broker's or a log's data. */
  readonly dataDir: string;
  /** Writes a junk file until the file system is full (ENOSPC), to the last block. Resolves with its size. */
  fill(): Promise<number>;
  /** Deletes the junk file: the space is free again. */
  free(): Promise<void>;
  /** Bytes still free for an unprivileged writer. */
  freeBytes(): Promise<number>;
  /** Frees, unmounts and removes the mount point; safe to call twice. */
  dispose(): Promise<void>;
}

/** Whether this process may mount a tmpfs (root on Linux): tests skip the full-disk scenarios otherwise. */
export function canMountTmpfs(): boolean {
  return process.platform === 'linux' && process.getuid?.() === 0;
}

/** Mounts a tmpfs of `sizeMiB` MiB (20 by default) on a fresh temp dir. */
export async function mountSmallDisk(sizeMiB = 20): Promise<SmallDisk> {
  const mountPoint = await mkdtemp(join(tmpdir(), 'broker-small-disk-'));
  await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m`, 'tmpfs', mountPoint]);
  const dataDir = join(mountPoint, 'data');
  await mkdir(dataDir);
  const junk = join(mountPoint, 'junk');
  let disposed = false;
  const disk: SmallDisk = {
    mountPoint,
    dataDir,
    fill: () => fillFile(junk),
    async free() {
      await unlink(junk).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    },
    async freeBytes() {
      const s = await statfs(mountPoint);
      return s.bavail * s.bsize;
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      await disk.free().catch(() => undefined);
      // A process that still has files open on it (a broker being killed) keeps it busy for a moment.
      for (let attempt = 0; ; attempt++) {
        try {
          await run('umount', [mountPoint]);
          break;
        } catch (err) {
          if (attempt >= 20) throw err;
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      }
      await rm(mountPoint, { recursive: true, force: true });
    },
  };
  return disk;
}

/** Appends to `path` in shrinking chunks until not even one byte fits, so no partly used page is left either. */
async function fillFile(path: string): Promise<number> {
  const file = await open(path, 'a');
  let size = 0;
  try {
    for (let chunk = 1024 * 1024; chunk >= 1; chunk = Math.floor(chunk / 4)) {
      const bytes = Buffer.alloc(chunk, 0x6a);
      for (;;) {
        try {
          const { bytesWritten } = await file.write(bytes);
          size += bytesWritten;
          if (bytesWritten < chunk) break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    await file.close();
  }
  return size;
}
