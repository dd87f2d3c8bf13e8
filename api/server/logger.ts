import { pino, type Logger } from 'pino';
import type { LogLevel } from '../../core/index.js';
import { processTracing } from '../tracing/process-tracing.js';

/**
 * Structured JSON logs on stdout (pino); the level comes from BROKER_LOG_LEVEL.
 * Written synchronously: the broker logs little (no line per request), and an asynchronous stdout flushed at
 * process.exit can spin for ever when stdout is a pipe nobody reads any more (`broker serve | head`), which
 * would turn a SIGTERM into a hang. A closed stdout (EPIPE) just stops the logging.
 */
export function createLogger(level: LogLevel, name = 'broker'): Logger {
  return pino(
    { name, level, base: { pid: process.pid }, mixin: () => processTracing()?.activeIds() ?? {} },
    pino.destination({ dest: 1, sync: true }),
  );
}
