import type { Logger } from 'pino';
import type { LogObserver } from '../../core/index.js';

/**
 * Adds the log's storage-limit failures to an observer, each logged at error: a free-space reading (statfs) or a
 * drop of a subject's oldest segment (BROKER_DISCARD=oldest) that failed. Publishes go on being judged against the last
 * figures, so without this line an operator would not know the floor or the discard policy had stopped working.
 */
export function withStorageLimitLog(observer: LogObserver, logger: Logger): LogObserver {
  return {
    ...observer,
    storageLimitFailed: (what, err) => {
      observer.storageLimitFailed?.(what, err);
      logger.error({ err, what }, 'a storage limit task failed; publishes are judged against the last figures');
    },
  };
}
