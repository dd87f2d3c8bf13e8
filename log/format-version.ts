import { UnsupportedFormatError } from '../core/index.js';
import { decodeFormatVersion, encodeFormatVersion } from './codec.js';
import { formatVersionKey } from './keys.js';
import type { Db } from './storage.js';

/**
 * The storage format this build reads and writes: the key families of keys.ts and the values of codec.ts. Raise it
 * with any change that an older build would misread, and teach open() to read (or migrate) the older versions.
 *
 * - 1: the layout before the marker existed (records without a checksum).
 * - 2: record values carry a tag and a CRC32C (codec.ts). A version 1 dir is upgraded at open by writing the marker
 *   alone: its records stay as they are and are told apart per record by their first byte, so the upgrade costs
 *   nothing, and a build that knows only version 1 refuses the dir from then on (it would misread the new records).
 */
export const FORMAT_VERSION = 2;

/** The versions this build opens: the older ones are upgraded at open by writing the marker. */
const READS = [1, FORMAT_VERSION];

/**
 * Checks the data dir's format version before anything reads or writes the data. A dir without a marker is
 * version 1, the layout from before the marker existed, or a new dir. A version this build reads but older than
 * FORMAT_VERSION (and a dir without a marker) gets the marker of FORMAT_VERSION written now. Any other version is
 * refused with UnsupportedFormatError, and nothing is written.
 */
export async function checkFormatVersion(db: Db, dataDir: string): Promise<void> {
  const value = await db.get(formatVersionKey());
  // A marker of another width is no version at all: it is shown as its bytes.
  const found = value === undefined ? 1 : (decodeFormatVersion(value) ?? `0x${Buffer.from(value).toString('hex')}`);
  if (found === FORMAT_VERSION) return;
  if (typeof found === 'number' && READS.includes(found)) {
    await db.put(formatVersionKey(), encodeFormatVersion(FORMAT_VERSION), { sync: true });
    return;
  }
  throw new UnsupportedFormatError(dataDir, String(found), READS.join(' or '));
}
