import { statfs } from 'node:fs/promises';
import type { LogObserver } from '../core/index.js';
import { notify } from './notify.js';

/**
 * What the storage limits count for everything stored under one data dir: the body bytes of all subjects (for the
 * total limit) and the free space of the data dir's file system, read with statfs every `pollMs` and after every
 * quarter of the floor appended, never per append. Between two reads the bytes appended since the last one are
 * subtracted from it, so a burst cannot run past the floor unseen. One log has its own; the partitions of a
 * partitioned log share one, so a limit that is a total stays a total (log/partitions/).
 */
export class StorageTally {
  /** Body bytes stored, over every log counting into this tally. */
  total = 0;
  private free = Number.POSITIVE_INFINITY;
  private appendedSinceStat = 0;
  private statting = false;
  private lastStatMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private users = 0;
  private started: Promise<void> | undefined;

  constructor(
    private readonly minFreeBytes: number,
    private readonly pollMs: number,
    private readonly dataDir: string,
    private readonly observer: LogObserver | undefined,
    private readonly freeBytes: (dir: string) => Promise<number> = fileSystemFree,
  ) {}

  /** One more log counts into this tally: the first reads the free space once and starts the poll. */
  async start(): Promise<void> {
    this.users += 1;
    this.started ??= this.startPolling();
    await this.started;
  }

  private async startPolling(): Promise<void> {
    await this.stat();
    if (this.minFreeBytes > 0 && this.users > 0) {
      this.timer = setInterval(() => void this.stat(), this.pollMs);
      this.timer.unref();
    }
  }

  /** A log stopped counting into this tally: the last one stops the poll. */
  stop(): void {
    this.users = Math.max(0, this.users - 1);
    if (this.users > 0) return;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.started = undefined;
  }

  /** Free bytes as last read, minus what was appended since and `alsoAdmitted`. */
  freeNow(alsoAdmitted: number): number {
    return this.free - this.appendedSinceStat - alsoAdmitted;
  }

  /** A refused append looks again soon (space may have been freed), but at most every 100 ms. */
  restatSoon(): void {
    if (Date.now() - this.lastStatMs > 100) void this.stat();
  }

  /** Bytes admitted for appending. */
  appended(bytes: number): void {
    this.total += bytes;
    this.appendedSinceStat += bytes;
    if (this.minFreeBytes > 0 && this.appendedSinceStat > this.minFreeBytes / 4) void this.stat();
  }

  private async stat(): Promise<void> {
    if (this.minFreeBytes <= 0 || this.statting) return;
    this.statting = true;
    this.lastStatMs = Date.now();
    const before = this.appendedSinceStat;
    try {
      this.free = await this.freeBytes(this.dataDir);
      // What was appended while statfs ran may or may not be in its figure: keep counting it, to be safe.
      this.appendedSinceStat -= before;
    } catch (err) {
      notify(() => this.observer?.storageLimitFailed?.('reading the free space of the data dir', err));
    } finally {
      this.statting = false;
    }
  }
}

/** Bytes an unprivileged writer may still use on the file system holding `dir`. */
async function fileSystemFree(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}
