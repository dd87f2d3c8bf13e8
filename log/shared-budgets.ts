import type { LogObserver } from '../core/index.js';
import { NO_LIMITS, type StorageLimitOptions } from './storage-limits.js';
import { StorageTally } from './storage-tally.js';
import { TailCacheBudget } from './tail-cache-budget.js';

/**
 * The budgets that are totals for everything stored under one data dir, shared by the logs that count into them:
 * the partitions of a partitioned log (log/partitions/) hand one of these to each of their LevelDbLogs, so
 * BROKER_TAIL_CACHE_BYTES, BROKER_MAX_SUBJECTS, BROKER_MAX_TOTAL_BYTES and the free-space floor hold over all of
 * them together. A LevelDbLog opened without one makes its own.
 */
export interface SharedBudgets {
  /** The tail caches' byte budget (tailCacheBytes). */
  readonly tailCache: TailCacheBudget;
  /** Subjects held, and how many may be (maxSubjects). */
  readonly subjects: { readonly max: number; count: number };
  /** Stored body bytes (limits.maxTotalBytes) and the free space of the file system (limits.minFreeBytes). */
  readonly storage: StorageTally;
}

export interface SharedBudgetSettings {
  readonly tailCacheRecords: number;
  readonly tailCacheBytes: number;
  readonly maxSubjects?: number;
  readonly limits?: StorageLimitOptions;
  readonly observer?: LogObserver;
}

/** Budgets for logs with these settings, the free space read on `dataDir`'s file system. */
export function createSharedBudgets(settings: SharedBudgetSettings, dataDir: string): SharedBudgets {
  const limits = settings.limits ?? NO_LIMITS;
  return {
    tailCache: new TailCacheBudget(settings.tailCacheRecords, settings.tailCacheBytes),
    subjects: { max: settings.maxSubjects ?? Number.POSITIVE_INFINITY, count: 0 },
    storage: new StorageTally(limits.minFreeBytes, limits.pollMs ?? 1000, dataDir, settings.observer),
  };
}
