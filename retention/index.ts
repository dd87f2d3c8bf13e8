// The public entry point of retention/: compaction (expiry and local retention) of the local log.
export { Compactor } from './compaction.js';
export {
  DEFAULT_PARTIAL_MIN_REMAINING_MS,
  DEFAULT_PARTIAL_THRESHOLD,
  DEFAULT_SEGMENT_READS_PER_PASS,
  type CompactionPolicy,
} from './compaction-policy.js';
export type { CompactionResult } from './compaction-result.js';
export type { CompactionObserver } from './compaction-observer.js';
export { localRetentionDrops } from './local-retention.js';
export { retentionProfile, scanProfile, type ExpiryProfile } from './expiry-profile.js';
export {
  DEFAULT_CLOCK_STEP_TOLERANCE_MS,
  SteadyClock,
  type ClockStep,
  type SteadyClockOptions,
} from './steady-clock.js';
