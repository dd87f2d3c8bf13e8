import type { CompactionResult } from './compaction-result.js';

/**
 * What compaction reports after each pass, for metrics. It owns nothing but the notification: the observer decides
 * what to count (the broker's job metrics count segments by kind, records and bytes). It excludes failures: a pass
 * that throws reports nothing, and whoever ran it sees the error.
 */
export interface CompactionObserver {
  compacted(result: CompactionResult): void;
}
