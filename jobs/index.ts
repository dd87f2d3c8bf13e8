// The public entry point of jobs/: the job runner over a JobQueue. The BullMQ queues are a separate entry
// (./bullmq/index.js), loaded only when REDIS_URL asks for them.
export { DEFAULT_CONCURRENCY, JobRunner, SWEEP, type JobRunnerOptions } from './job-runner.js';
export type { KeyedJob, PeriodicJob } from './job-definition.js';
export type { AddOutcome, JobHandler, JobQueue, JobQueues, QueuedJob, WorkOptions } from './job-queue.js';
export { MemoryQueue, MemoryQueues } from './memory-queue.js';
export {
  DEFAULT_ATTEMPTS,
  DEFAULT_BACKOFF_MS,
  DEFAULT_MAX_BACKOFF_MS,
  resolveRetryPolicy,
  retryDelayMs,
  type RetryPolicy,
} from './retry-policy.js';
export { JobMetrics, type CompactedCounts } from './job-metrics.js';
