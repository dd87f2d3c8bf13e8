// A partitioned log (log/partitions/) on real LevelDB databases in a fresh temp dir, for the partition tests.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLog, type PartitionedLog, type PartitionedLogOptions } from '../index.js';
import { PARTITIONS_FOLDER } from '../partitions/layout.js';
import { TEST_LOG_DEFAULTS, body } from './temp-log.js';

export interface TempPartitioned {
  readonly dir: string;
  log: PartitionedLog;
  /** Closes the log and opens it again with `more` (e.g. another `owned`). */
  reopen(more?: Partial<PartitionedLogOptions>): Promise<PartitionedLog>;
  /** The partition folders that exist (names under partitions/), sorted. */
  partitionDirs(): Promise<string[]>;
  dispose(): Promise<void>;
}

export async function tempPartitioned(options: Partial<PartitionedLogOptions> = {}): Promise<TempPartitioned> {
  const dir = await mkdtemp(join(tmpdir(), 'broker-partitions-'));
  const open = (more: Partial<PartitionedLogOptions>): Promise<PartitionedLog> =>
    openLog({ ...TEST_LOG_DEFAULTS, ...options, ...more, dataDir: dir });
  const ctx: TempPartitioned = {
    dir,
    log: await open({}),
    async reopen(more = {}) {
      await ctx.log.close();
      ctx.log = await open(more);
      return ctx.log;
    },
    async partitionDirs() {
      try {
        return (await readdir(join(dir, PARTITIONS_FOLDER))).sort();
      } catch {
        return [];
      }
    },
    async dispose() {
      await ctx.log.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return ctx;
}

/** A record to append: `text` as its body, no expiry. */
export function message(subject: string, text: string): { subject: string; body: Buffer; expirationSeconds: number } {
  return { subject, body: body(text), expirationSeconds: 0 };
}

/** Subjects, `perPartition` of each of `partitions` partitions at least, found by trying names `prefix` + i. */
export function subjectsCovering(
  partitions: number,
  perPartition: number,
  partitionOf: (subject: string) => number,
  prefix = 's',
): string[] {
  const counts = new Array<number>(partitions).fill(0);
  const out: string[] = [];
  for (let i = 0; counts.some((n) => n < perPartition); i++) {
    const subject = `${prefix}${i}`;
    const p = partitionOf(subject);
    if ((counts[p] ?? 0) >= perPartition) continue;
    counts[p] = (counts[p] ?? 0) + 1;
    out.push(subject);
  }
  return out;
}
