// The public entry point of jobs/. The BullMQ runner is a separate entry (./bullmq-runner.js), loaded only when
// REDIS_URL asks for it.
export { InProcessRunner, type InProcessRunnerOptions } from './in-process-runner.js';
export type { JobRunner, JobRunnerOptions } from './job-runner.js';
export { JobMetrics } from './job-metrics.js';
