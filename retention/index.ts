// The public entry point of retention/: compaction (expiry and local retention) of the local log.
export { Compactor, type CompactionPolicy, type CompactionResult } from './compaction.js';
