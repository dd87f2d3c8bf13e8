// The BullMQ entry of jobs/, apart from jobs/index.ts so that bullmq and ioredis are loaded only when REDIS_URL asks
// for them (import('../jobs/bullmq/index.js')): they add tens of MB to a broker on embedded defaults.
export { BullMqQueue } from './bullmq-queue.js';
export { BullMqQueues, queueName, type BullMqQueuesOptions } from './bullmq-queues.js';
