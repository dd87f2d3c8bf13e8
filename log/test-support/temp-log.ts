import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Log } from '../../core/index.js';
import type { LogOptions } from '../index.js';
import { LevelDbLog } from '../leveldb-log.js';

export const TEST_LOG_DEFAULTS: Omit<LogOptions, 'dataDir'> = {
  fsync: 'never',
  segmentMaxRecords: 100_000,
  segmentMaxBytes: 64 * 1024 * 1024,
  segmentMaxAgeMs: 3_600_000,
  tailCacheRecords: 4096,
  tailCacheBytes: 64 * 1024 * 1024,
  subjectCacheSize: 10_000,
};

/**
 * A LevelDbLog (one database, no partitions: log/partitions/ has its own tests) in a fresh temp dir; dispose() closes
 * it and removes the dir.
 */
export async function tempLog(options: Partial<LogOptions> = {}): Promise<{
  log: Log;
  dir: string;
  reopen(more?: Partial<LogOptions>): Promise<Log>;
  dispose(): Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), 'broker-log-'));
  let log: Log = await LevelDbLog.open({ ...TEST_LOG_DEFAULTS, ...options, dataDir: dir });
  const ctx = {
    log,
    dir,
    async reopen(more: Partial<LogOptions> = {}): Promise<Log> {
      await ctx.log.close();
      log = await LevelDbLog.open({ ...TEST_LOG_DEFAULTS, ...options, ...more, dataDir: dir });
      ctx.log = log;
      return log;
    },
    async dispose(): Promise<void> {
      await ctx.log.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return ctx;
}

export function body(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}
