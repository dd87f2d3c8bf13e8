// Real LevelDB files damaged for real between two runs of a broker: the WAL overwritten or torn, a table file with
// a flipped byte or gone. What is promised: never a wrong body, lost ids answered DATA_LOSS (not EXPIRED_ID or
// INVALID_ID), the next id above every acked one, and a broker that cannot open its data says why.
import { readdir, rm, stat, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { startBrokerProcess, type BrokerProcess } from '../../broker-process.js';
import { type Acked, brokenByCheck, checkAcked, describeAnswers, probeReuse, publishKnown, seconds } from '../acked.js';
import type { FaultRow } from '../fault-row.js';
import { partitionDirOf } from '../../../../log/index.js';
import { flipByteInTables } from '../../../../log/test-support/damaged-table.js';
import { overwriteBytes, truncateFile } from '../../damage.js';

const SUBJECT = 'damaged';
const RECORDS = 1000;

/** Where the damage goes: the write-ahead log (records not yet in a table), or a table file. */
type Target = 'wal' | 'table';

/** The largest file whose name matches: the WAL (NNNNNN.log) or a table (NNNNNN.ldb). */
async function largest(dir: string, pattern: RegExp): Promise<string> {
  const names = (await readdir(dir)).filter((n) => pattern.test(n));
  const sized = await Promise.all(names.map(async (n) => ({ n, size: (await stat(join(dir, n))).size })));
  const best = sized.sort((a, b) => b.size - a.size)[0];
  if (best === undefined || best.size === 0)
    throw new Error(`no ${pattern} file with data in ${dir}: ${names.join(', ')}`);
  return join(dir, best.n);
}

export const walFile = (dir: string): Promise<string> => largest(dir, /^\d+\.log$/);
export const tableFile = (dir: string): Promise<string> => largest(dir, /^\d+\.(ldb|sst)$/);

/**
 * Publishes RECORDS acked records, then leaves them in the WAL (SIGKILL: nothing flushed) or in a table file (a
 * clean stop, and a second open, whose recovery writes the WAL out as a level-0 table).
 */
async function prepare(target: Target): Promise<{ dataDir: string; acked: Acked }> {
  const broker = await startBrokerProcess();
  const acked = await publishKnown(
    [broker.client(), broker.client(), broker.client(), broker.client()],
    SUBJECT,
    RECORDS,
  );
  if (target === 'wal') {
    await broker.stop('SIGKILL');
  } else {
    await broker.stop('SIGTERM');
    await (await startBrokerProcess({}, broker.dataDir)).stop('SIGTERM');
  }
  return { dataDir: broker.dataDir, acked };
}

interface DamageCase {
  readonly fault: string;
  readonly target: Target;
  /** Damages a file of a LevelDB database (SUBJECT's partition, knowing what was acked); resolves with its name. */
  damage(partitionDir: string, acked: Acked): Promise<string>;
}

async function afterDamage(c: DamageCase, broker: BrokerProcess, acked: Acked, startMs: number): Promise<FaultRow> {
  const client = broker.client();
  const started = Date.now() - startMs;
  const check = await checkAcked(client, SUBJECT, acked);
  const idsReused = await probeReuse(client, SUBJECT, acked);
  const broken = brokenByCheck(check, 'losses reported');
  if (idsReused > 0) broken.push(`${idsReused} ids reused`);
  return {
    fault: c.fault,
    clientSaw: `broker started; Fetch of acked ids: ${describeAnswers(check.answers)}`,
    acked: check.checked,
    lost: check.lost,
    idsReused,
    recovery: `${seconds(started)} (restart)`,
    promise: 'losses reported',
    broken,
  };
}

async function runDamage(c: DamageCase): Promise<FaultRow> {
  const { dataDir, acked } = await prepare(c.target);
  try {
    await c.damage(await partitionDirOf(dataDir, SUBJECT), acked);
    return await startAfterDamage(c, dataDir, acked);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function startAfterDamage(c: DamageCase, dataDir: string, acked: Acked): Promise<FaultRow> {
  const startMs = Date.now();
  let broker: BrokerProcess;
  try {
    broker = await startBrokerProcess({}, dataDir);
  } catch (err) {
    const cause = (err as Error).message.split('\n').find((l) => /error|corrupt|fail/i.test(l)) ?? '';
    return {
      fault: c.fault,
      clientSaw: `start refused: ${cause.slice(0, 160)}`,
      acked: acked.size,
      lost: acked.size,
      idsReused: null,
      recovery: 'none (does not start)',
      promise: 'losses reported',
      broken: ['refused to start instead of serving what is intact'],
    };
  }
  try {
    return await afterDamage(c, broker, acked, startMs);
  } finally {
    await broker.dispose();
  }
}

export const walOverwritten = (): Promise<FaultRow> =>
  runDamage({
    fault: '16 bytes overwritten in the WAL',
    target: 'wal',
    damage: async (dir) => {
      const wal = await walFile(dir);
      await overwriteBytes(wal, 0.5, 16);
      return basename(wal);
    },
  });

export const walTruncated = (): Promise<FaultRow> =>
  runDamage({
    fault: 'WAL truncated to 60%',
    target: 'wal',
    damage: async (dir) => {
      const wal = await walFile(dir);
      await truncateFile(wal, 0.6);
      return basename(wal);
    },
  });

export const tableByteFlipped = (): Promise<FaultRow> =>
  runDamage({
    fault: 'one byte flipped in a table file',
    target: 'table',
    // Inside a record's body, found by its bytes: a flip at a fixed offset of the file lands in a block's compressed
    // structure on some layouts, which is LevelDB's corruption to report, not the record checksum this row is about.
    damage: async (dir, acked) => {
      // A stretch of a body that the block holds as it is (compression may break a body into literals and copies):
      // the first record, from the middle of the log, whose 32 bytes occur exactly once in the table files.
      const bodies = [...acked.values()];
      for (const body of [...bodies.slice(bodies.length >> 1), ...bodies.slice(0, bodies.length >> 1)]) {
        try {
          return basename((await flipByteInTables(dir, body.subarray(64, 96))).file);
        } catch {
          // not stored as one literal run: try the next record
        }
      }
      throw new Error('no record body found as it is in the table files');
    },
  });

/**
 * A table file gone: the broker cannot serve those records, and must not pretend to. Promised: it refuses to start
 * and its error names the cause (the missing file), not only "Database failed to open".
 */
export async function tableMissing(): Promise<FaultRow> {
  const fault = 'a missing table file';
  const { dataDir, acked } = await prepare('table');
  try {
    const partition = await partitionDirOf(dataDir, SUBJECT);
    const missing = basename(await tableFile(partition));
    await unlink(join(partition, missing));
    let broker: BrokerProcess;
    try {
      broker = await startBrokerProcess({}, dataDir);
    } catch (err) {
      const message = (err as Error).message;
      const named = message.includes(missing);
      const lines = message.split('\n');
      const cause = lines.find((l) => l.includes(missing)) ?? lines.find((l) => /failed to open/i.test(l)) ?? message;
      return {
        fault,
        clientSaw: `start refused: ${cause.trim().slice(0, 200)}`,
        acked: acked.size,
        lost: acked.size,
        idsReused: 0,
        recovery: 'none: restore the data dir (or replay from the cold tier)',
        promise: 'losses reported',
        broken: named ? [] : [`the start error does not name the missing file ${missing}`],
      };
    }
    try {
      const row = await afterDamage({ fault, target: 'table', damage: async () => missing }, broker, acked, Date.now());
      return { ...row, broken: [...row.broken, 'started on a data dir with a missing table file'] };
    } finally {
      await broker.dispose();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}
