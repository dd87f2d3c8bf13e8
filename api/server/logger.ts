import { pino, type Logger } from 'pino';
import type { LogLevel } from '../../core/index.js';

/** Structured JSON logs on stdout (pino); the level comes from BROKER_LOG_LEVEL. */
export function createLogger(level: LogLevel, name = 'broker'): Logger {
  return pino({ name, level, base: { pid: process.pid } });
}
