import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { ConfigError } from '../../core/index.js';

/**
 * Descriptors the broker needs besides LevelDB's and its clients' connections: stdio, libuv's epoll and thread-pool
 * wakeups, the HIGH-WATER side file (and its temp file and directory handle while it is rewritten), the metrics
 * server and its scrapers, Redis and Cassandra connections, and a margin for a dump or a log rotation.
 */
export const RESERVED_FDS = 128;
/** Fewer connections than this leave the broker useless: refuse to start rather than serve a handful. */
const MIN_CONNECTIONS = 16;

/** The process's soft limit on open files (`ulimit -n`), from /proc/self/limits; undefined where there is none. */
export function readFdLimit(limitsFile = '/proc/self/limits'): number | undefined {
  let text: string;
  try {
    text = readFileSync(limitsFile, 'utf8');
  } catch {
    return undefined;
  }
  const soft = /^Max open files\s+(\S+)/m.exec(text)?.[1];
  if (soft === undefined || soft === 'unlimited') return undefined;
  const value = Number(soft);
  return Number.isSafeInteger(value) ? value : undefined;
}

export interface FdBudget {
  /** The process's open-file limit, if known. */
  readonly fdLimit: number | undefined;
  /** Files LevelDB may hold open (its maxOpenFiles). */
  readonly levelDbFiles: number;
}

/**
 * The connection limit the broker can honour: BROKER_MAX_CONNECTIONS, lowered (with a warning) to what the open-file
 * limit leaves once LevelDB's files and RESERVED_FDS are set aside, so a flood of connections can never take the
 * descriptors LevelDB needs to roll its WAL or open a table (which would fail the log). A limit that leaves fewer
 * than MIN_CONNECTIONS is a ConfigError naming both settings.
 */
export function connectionBudget(requested: number, budget: FdBudget, logger: Logger): number {
  const { fdLimit, levelDbFiles } = budget;
  if (fdLimit === undefined) return requested;
  const room = fdLimit - levelDbFiles - RESERVED_FDS;
  if (requested <= room) return requested;
  const why = `the open-file limit (ulimit -n) is ${fdLimit}, of which LevelDB keeps ${levelDbFiles} and the broker ${RESERVED_FDS}`;
  if (room < MIN_CONNECTIONS) {
    throw new ConfigError(
      'BROKER_MAX_CONNECTIONS',
      `${requested} connections do not fit: ${why}, leaving ${Math.max(room, 0)}; raise ulimit -n to at least ${requested + levelDbFiles + RESERVED_FDS}`,
    );
  }
  logger.warn(
    { requested, maxConnections: room, fdLimit, levelDbFiles, reserved: RESERVED_FDS },
    `BROKER_MAX_CONNECTIONS lowered to ${room}: ${why}`,
  );
  return room;
}
