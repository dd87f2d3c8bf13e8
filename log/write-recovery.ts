import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { UnavailableError, type LogObserver } from '../core/index.js';
import { encodeFormatVersion } from './codec.js';
import { FORMAT_VERSION } from './format-version.js';
import { formatVersionKey } from './keys.js';
import type { Db } from './storage.js';

/** Delays between recovery attempts after a failed write, in ms: the first, doubled after each failure up to max. */
export interface WriteRetryDelays {
  readonly firstMs: number;
  readonly maxMs: number;
}

export const DEFAULT_WRITE_RETRY: WriteRetryDelays = { firstMs: 1_000, maxMs: 30_000 };

/**
 * Bytes the file-system probe writes before the database is reopened: LevelDB's default write buffer, since
 * reopening writes the recovered memtable out as a table. Reopening on a disk without that much room would close
 * the database (and every read with it) only to fail.
 */
const PROBE_FILE_BYTES = 4 * 1024 * 1024;
const PROBE_FILE = 'WRITE-PROBE';

export interface WriteRecoveryOptions {
  readonly db: Db;
  readonly dataDir: string;
  readonly observer: LogObserver | undefined;
  readonly delays: WriteRetryDelays;
  /** Drops what memory holds that the failed write may have made wrong: subject states, tail caches, cursors. */
  readonly forget: () => void;
  /** After the database has reopened, before the probe: forget again, and finish what open() finishes. */
  readonly reopened: () => Promise<void>;
  /** Accept writes again. */
  readonly resume: () => void;
}

/**
 * Brings the log back after a failed write (ENOSPC, EMFILE, EIO), without a restart. A failed LevelDB write may
 * leave a torn record in the WAL, or a sticky background error that fails every later write, and the in-memory
 * offsets may claim records that never landed (or miss some that did). So each attempt, with capped exponential
 * backoff: probe the file system, close and reopen the database (LevelDB replays the WAL and writes it out as a
 * table, so the torn tail is left behind), rebuild every subject state from disk, and accept writes only once a
 * synced probe write has succeeded.
 */
export class WriteRecovery {
  private recovering = false;
  private delayMs: number;
  private timer: NodeJS.Timeout | undefined;
  private attempt: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly options: WriteRecoveryOptions) {
    this.delayMs = options.delays.firstMs;
  }

  /** Whether the log is refusing writes until an attempt succeeds. */
  get failing(): boolean {
    return this.recovering;
  }

  /** A write failed (the group commit has rejected its appends and refuses more): report it and start recovering. */
  failed(err: Error): void {
    this.report(err);
    this.options.forget();
    if (this.recovering || this.closed) return;
    this.recovering = true;
    this.delayMs = this.options.delays.firstMs;
    this.schedule();
  }

  /** Stops retrying; waits for an attempt under way so the database is not closed under it. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.attempt;
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.attempt = this.tryRecover().finally(() => (this.attempt = undefined));
    }, this.delayMs);
    // A failing log must not keep a process alive that is otherwise done.
    this.timer.unref();
  }

  private async tryRecover(): Promise<void> {
    const { db, dataDir } = this.options;
    try {
      await probeFileSystem(dataDir);
      if (this.closed) return;
      await db.close();
      await db.open();
      await this.options.reopened();
      const probe = db.batch();
      probe.put(formatVersionKey(), encodeFormatVersion(FORMAT_VERSION));
      await probe.write({ sync: true });
    } catch (err) {
      this.report(err instanceof Error ? err : new Error(String(err)));
      this.delayMs = Math.min(this.delayMs * 2, this.options.delays.maxMs);
      this.schedule();
      return;
    }
    if (this.closed) return;
    this.recovering = false;
    this.options.resume();
    notify(() => this.options.observer?.writeRecovered?.());
  }

  private report(err: Error): void {
    notify(() => this.options.observer?.writeFailed?.(err));
  }
}

/** Writes, syncs and deletes a file in the data dir: fails while the disk is full or out of file descriptors. */
async function probeFileSystem(dataDir: string): Promise<void> {
  const path = join(dataDir, PROBE_FILE);
  try {
    const file = await open(path, 'w');
    try {
      const { bytesWritten } = await file.write(Buffer.alloc(PROBE_FILE_BYTES));
      if (bytesWritten < PROBE_FILE_BYTES)
        throw new UnavailableError(`the data dir took ${bytesWritten} of ${PROBE_FILE_BYTES} probe bytes`);
      await file.sync();
    } finally {
      await file.close();
    }
  } finally {
    await unlink(path).catch(() => undefined);
  }
}

/** Calls an observer: its failure is reported as a process warning and never stops the recovery. */
function notify(call: () => void): void {
  try {
    call();
  } catch (err) {
    process.emitWarning(err instanceof Error ? err : new Error(String(err)), { code: 'BROKER_LOG_LISTENER' });
  }
}
