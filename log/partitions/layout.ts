import { randomUUID } from 'node:crypto';
import { link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BrokerError,
  ConfigError,
  DEFAULT_PARTITIONS,
  MAX_PARTITIONS,
  StorageOpenError,
  partitionOf,
} from '../../core/index.js';

/** The marker file at the root of a data dir: its partition count, hash and layout (JSON). */
export const PARTITIONS_MARKER = 'partitions.json';
/** The folder holding the partitions of a partitioned data dir: partition p in `partitions/<p, 4 digits>`. */
export const PARTITIONS_FOLDER = 'partitions';
/** The subject hash the marker names (core/partitioning.ts); a marker naming another is refused. */
export const PARTITION_HASH = 'fnv1a32';

/**
 * How a data dir is split. 'partitions': `partitions` LevelDB databases under partitions/, each created on its
 * first append. 'root': a data dir written before partitions existed, adopted as its one partition, the LevelDB at
 * the root itself (it stays one partition: there is no repartitioning tool).
 */
export interface PartitionLayout {
  readonly dataDir: string;
  readonly partitions: number;
  readonly layout: 'partitions' | 'root';
}

/** A partition's folder name: its number, zero-padded to 4 digits (MAX_PARTITIONS is 1024). */
export function partitionName(partition: number): string {
  return String(partition).padStart(4, '0');
}

/** Where partition `partition` of the data dir lives (a full LevelDbLog dir). */
export function partitionDir(layout: PartitionLayout, partition: number): string {
  return layout.layout === 'root' ? layout.dataDir : join(layout.dataDir, PARTITIONS_FOLDER, partitionName(partition));
}

/**
 * The data dir's partitions, creating its marker when it has none: a new (or empty) dir gets `requested`, or
 * DEFAULT_PARTITIONS when unset; a dir written before partitions (a LevelDB at its root, no marker) is adopted as
 * one partition at the root. Refuses a `requested` count that differs from the dir's (ConfigError: a data dir keeps
 * the count it was created with). Idempotent, and safe when processes race at first start: the marker is created
 * exclusively, and a process that loses the race reads the winner's and checks `requested` against it.
 */
export async function ensurePartitionLayout(dataDir: string, requested?: number): Promise<PartitionLayout> {
  checkRequested(requested);
  try {
    return await settleLayout(dataDir, requested);
  } catch (err) {
    // The file system's own errors (a file where the dir should be, no permission) as the log's open would say them.
    if (err instanceof BrokerError) throw err;
    throw new StorageOpenError(dataDir, err);
  }
}

async function settleLayout(dataDir: string, requested: number | undefined): Promise<PartitionLayout> {
  await mkdir(dataDir, { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    const found = await readMarker(dataDir);
    if (found !== undefined) return matchRequested(found, requested);
    const layout = await newLayout(dataDir, requested);
    if (await createMarker(layout)) return layout;
  }
  // Created by another process between our read and our write: read once more, or say why not.
  const found = await readMarker(dataDir);
  if (found === undefined) throw new StorageOpenError(dataDir, new Error(`${PARTITIONS_MARKER} vanished while read`));
  return matchRequested(found, requested);
}

/**
 * The data dir's partitions as they are, writing nothing (for `broker verify`): its marker, a dir from before
 * partitions as one partition at the root, or undefined for a dir that holds neither (new, or not a data dir).
 */
export async function readPartitionLayout(dataDir: string): Promise<PartitionLayout | undefined> {
  return (await readMarker(dataDir)) ?? ((await hasRootDatabase(dataDir)) ? rootLayout(dataDir) : undefined);
}

/** The folder of the partition holding `subject` in a data dir (for tests that damage a subject's files). */
export async function partitionDirOf(dataDir: string, subject: string): Promise<string> {
  const layout = await readPartitionLayout(dataDir);
  if (layout === undefined) throw new Error(`${dataDir} is not a data dir (no ${PARTITIONS_MARKER}, no LevelDB)`);
  return partitionDir(layout, partitionOf(subject, layout.partitions));
}

function rootLayout(dataDir: string): PartitionLayout {
  return { dataDir, partitions: 1, layout: 'root' };
}

function checkRequested(requested: number | undefined): void {
  if (requested === undefined) return;
  if (!Number.isInteger(requested) || requested < 1 || requested > MAX_PARTITIONS)
    throw new ConfigError('BROKER_PARTITIONS', `must be an integer from 1 to ${MAX_PARTITIONS}, got ${requested}`);
}

/** The layout a dir without a marker gets. */
async function newLayout(dataDir: string, requested: number | undefined): Promise<PartitionLayout> {
  if (await hasRootDatabase(dataDir)) return matchRequested(rootLayout(dataDir), requested);
  if (await exists(join(dataDir, PARTITIONS_FOLDER))) {
    const why = `it has a ${PARTITIONS_FOLDER}/ folder but no ${PARTITIONS_MARKER}: its partition count is unknown`;
    throw new StorageOpenError(dataDir, new Error(why));
  }
  return { dataDir, partitions: requested ?? DEFAULT_PARTITIONS, layout: 'partitions' };
}

function matchRequested(found: PartitionLayout, requested: number | undefined): PartitionLayout {
  if (requested === undefined || requested === found.partitions) return found;
  if (found.layout === 'root') {
    throw new ConfigError(
      'BROKER_PARTITIONS',
      `is ${requested}, but the data dir ${found.dataDir} was written by a broker without partitions (its LevelDB is at its root), so it is 1 partition and stays 1: there is no repartitioning tool. Unset BROKER_PARTITIONS or set it to 1, or start on a new data dir`,
    );
  }
  throw new ConfigError(
    'BROKER_PARTITIONS',
    `is ${requested}, but the data dir ${found.dataDir} has ${found.partitions} partitions (recorded in its ${PARTITIONS_MARKER} when it was created); a data dir keeps its partition count (there is no repartitioning tool): unset BROKER_PARTITIONS or set it to ${found.partitions}`,
  );
}

/** A LevelDB database at the root: the dir was written by a broker from before partitions. */
function hasRootDatabase(dataDir: string): Promise<boolean> {
  return exists(join(dataDir, 'CURRENT'));
}

/** Whether `path` is a directory (false when it does not exist). */
export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

async function readMarker(dataDir: string): Promise<PartitionLayout | undefined> {
  let text: string;
  try {
    text = await readFile(join(dataDir, PARTITIONS_MARKER), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StorageOpenError(dataDir, err);
  }
  return parseMarker(dataDir, text);
}

function parseMarker(dataDir: string, text: string): PartitionLayout {
  const refuse = (why: string): never => {
    throw new StorageOpenError(dataDir, new Error(`${PARTITIONS_MARKER} ${why}`));
  };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return refuse(`is not JSON: ${JSON.stringify(text.slice(0, 80))}`);
  }
  if (typeof value !== 'object' || value === null) return refuse('is not a JSON object');
  const { partitions, hash, layout } = value as Record<string, unknown>;
  if (typeof partitions !== 'number' || !Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS)
    return refuse(`has partitions ${JSON.stringify(partitions)}, not an integer from 1 to ${MAX_PARTITIONS}`);
  if (hash !== PARTITION_HASH)
    return refuse(`names the hash ${JSON.stringify(hash)}; this broker has ${PARTITION_HASH}`);
  if (layout !== undefined && layout !== 'root') return refuse(`has the unknown layout ${JSON.stringify(layout)}`);
  if (layout === 'root' && partitions !== 1) return refuse(`has the root layout with ${partitions} partitions, not 1`);
  return { dataDir, partitions, layout: layout === 'root' ? 'root' : 'partitions' };
}

function markerText(layout: PartitionLayout): string {
  const fields = { partitions: layout.partitions, hash: PARTITION_HASH };
  return `${JSON.stringify(layout.layout === 'root' ? { ...fields, layout: 'root' } : fields)}\n`;
}

/**
 * Writes the marker if there is none: the text goes to a temp file, is synced, and is then hard-linked to the
 * marker's name. A link, unlike a rename, fails when the name exists, so of two processes racing at first start one
 * creates the marker and the other is told (false), and no reader ever sees a partly written marker. On a file system
 * without hard links the marker is created exclusively (O_EXCL) and written in place.
 */
async function createMarker(layout: PartitionLayout): Promise<boolean> {
  const marker = join(layout.dataDir, PARTITIONS_MARKER);
  const temp = join(layout.dataDir, `.${PARTITIONS_MARKER}.${process.pid}.${randomUUID()}.tmp`);
  await writeSynced(temp, markerText(layout), 'w');
  try {
    await link(temp, marker);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
    if (!(await writeSynced(marker, markerText(layout), 'wx').then(() => true, alreadyThere))) return false;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  await syncDir(layout.dataDir);
  return true;
}

function alreadyThere(err: unknown): false {
  if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
  throw err;
}

async function writeSynced(path: string, text: string, flags: 'w' | 'wx'): Promise<void> {
  const file = await open(path, flags);
  try {
    await file.writeFile(text);
    await file.sync();
  } finally {
    await file.close();
  }
}

/** The new name is durable once its directory is synced. */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
