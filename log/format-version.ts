import { UnsupportedFormatError } from '../core/index.js';
import { decodeFormatVersion, encodeFormatVersion } from './codec.js';
import { formatVersionKey } from './keys.js';
import type { Db } from './storage.js';

/**
 * The storage format this build reads and writes: the key families of keys.ts and the values of codec.ts. Raise it
 * with any change that an older build would misread, and teach open() to read (or migrate) the older versions.
 */
export const FORMAT_VERSION = 1;

/**
 * Checks the data dir's format version before anything reads or writes the data. A dir without a marker is
 * version 1, the layout from before the marker existed, or a new dir: the marker is written now. Any other
 * version is refused with UnsupportedFormatError, and nothing is written.
 */
export async function checkFormatVersion(db: Db, dataDir: string): Promise<void> {
  const value = await db.get(formatVersionKey());
  if (value === undefined) {
    await db.put(formatVersionKey(), encodeFormatVersion(FORMAT_VERSION), { sync: true });
    return;
  }
  const found = decodeFormatVersion(value);
  if (found === FORMAT_VERSION) return;
  throw new UnsupportedFormatError(
    dataDir,
    found === undefined ? `0x${Buffer.from(value).toString('hex')}` : String(found),
    String(FORMAT_VERSION),
  );
}
