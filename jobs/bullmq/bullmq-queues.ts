import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisSecurity } from '../../core/index.js';
import type { JobQueue, JobQueues } from '../job-queue.js';
import { BullMqQueue } from './bullmq-queue.js';

export interface BullMqQueuesOptions {
  readonly redisUrl: string;
  /** The ACL user, password and CA (REDIS_USERNAME, REDIS_PASSWORD, REDIS_TLS_CA through redisSecurity). */
  readonly security?: RedisSecurity;
  /** BullMQ key prefix shared by a cluster (BROKER_QUEUE_PREFIX). */
  readonly prefix: string;
  /** This broker's name (BROKER_ID): its log is local to it, so its queues are its own. */
  readonly brokerId: string;
  readonly logger: Logger;
}

/** The BullMQ name of one of a broker's queues: `<brokerId>-<name>` under the shared prefix. */
/** Redis's answers to credentials it does not take (a wrong password, an ACL user without the rights BullMQ needs). */
const REFUSED = /^(WRONGPASS|NOAUTH|NOPERM)/;

export function queueName(brokerId: string, name: string): string {
  return `${brokerId}-${name}`;
}

/**
 * A broker's queues on one Redis connection. Each broker gets its own queues, named after its BROKER_ID, because
 * its log is local to it: several brokers share one Redis without taking each other's jobs. Opening does not wait
 * for Redis (the connection connects, and reconnects, in the background).
 */
export class BullMqQueues implements JobQueues {
  readonly kind = 'bullmq' as const;
  private readonly connection: Redis;
  /** Set when the connection fails or closes (also the first attempt: startup does not wait for Redis). */
  private downSince: number | undefined;
  /** Redis answered WRONGPASS/NOAUTH/NOPERM since the connection was last ready (logged once). */
  private refused = false;

  constructor(private readonly options: BullMqQueuesOptions) {
    // maxRetriesPerRequest: null lets commands wait through a Redis outage instead of failing (BullMQ requires it);
    // the runner bounds those waits and falls back while unreachableSince() says Redis is away.
    this.connection = new Redis(options.redisUrl, { ...options.security, maxRetriesPerRequest: null });
    this.connection.on('error', (err: Error) => {
      if (this.connection.status !== 'ready') this.downSince ??= Date.now();
      if (!REFUSED.test(err.message)) return options.logger.warn({ err }, 'redis connection error');
      // Said once per refusal, as an error: every reconnect is refused alike until the credentials are fixed.
      if (this.refused) return;
      this.refused = true;
      options.logger.error(
        { err },
        "Redis refused the broker's credentials (REDIS_USERNAME/REDIS_PASSWORD or REDIS_URL's): jobs run in this process until it accepts them",
      );
    });
    this.connection.on('ready', () => {
      this.downSince = undefined;
      this.refused = false;
    });
    const lost = (): void => void (this.downSince ??= Date.now());
    this.connection.on('close', lost);
    this.connection.on('end', lost);
  }

  unreachableSince(): number | undefined {
    return this.downSince;
  }

  open(name: string): JobQueue {
    const { brokerId, prefix, logger } = this.options;
    return new BullMqQueue(queueName(brokerId, name), this.connection, prefix, logger);
  }

  async close(): Promise<void> {
    this.connection.disconnect();
  }
}
