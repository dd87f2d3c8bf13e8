import type { Logger } from 'pino';
import { DataLossError, type LogObserver } from '../../core/index.js';

/**
 * Adds the log's reports of lost data to an observer, each logged at error: acknowledged ids lost with damaged files
 * (found by its recovery pass at open), so an operator sees at start what was lost, not only a client at fetch; and
 * every read of a stored record that failed its checksum (the reader got DATA_LOSS), after the observer's own count.
 */
export function withDataLossLog(observer: LogObserver, logger: Logger): LogObserver {
  return {
    ...observer,
    dataLost: (subject, from, to, detail) => {
      const err = new DataLossError(subject, from, `ids ${from} to ${to} (${to - from + 1}) are lost: ${detail}`);
      logger.error({ err, subject, from, to }, 'acknowledged ids lost with damaged files');
    },
    // A clean hand-over (the previous owner flushed them to the cold tier, which serves them): no alarm.
    idsHandedOver: (subject, from, to) =>
      logger.info({ subject, from, to }, 'ids issued by the previous owner: served from the cold tier'),
    checksumMismatch: (subject, offset) => {
      observer.checksumMismatch?.(subject, offset);
      logger.error(
        { reason: 'DATA_LOSS', subject, id: offset },
        'a stored record failed its checksum (CRC32C): not served',
      );
    },
  };
}
