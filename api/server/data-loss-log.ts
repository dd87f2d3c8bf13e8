import type { Logger } from 'pino';
import { DataLossError, type AckMode, type LogObserver } from '../../core/index.js';

/**
 * Adds the log's reports of lost data to an observer: acknowledged ids lost with damaged files (found by its recovery
 * passes at open), logged at error so an operator sees at start what was lost, not only a client at fetch; and every
 * read of a stored record that failed its checksum (the reader got DATA_LOSS), after the observer's own count.
 * With `acks` replicated an id was acknowledged only once the cold tier had it, so ids missing from this disk (wiped,
 * damaged, or a crashed owner's partition taken over) are served from there, or were never acknowledged: no loss to
 * alarm about, only a warning of what this disk does not hold.
 */
export function withDataLossLog(observer: LogObserver, logger: Logger, acks: AckMode = 'local'): LogObserver {
  return {
    ...observer,
    dataLost: (subject, from, to, detail) => {
      if (acks === 'replicated') {
        logger.warn(
          { subject, from, to, detail },
          'ids not on this disk: acks=replicated, so each acknowledged one is served from the cold tier',
        );
        return;
      }
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
