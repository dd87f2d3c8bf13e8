// Damages one stored record of a closed data dir the way bit rot would: one body byte flipped, the record's tag and
// checksum left as written, so the log's reads must catch it (tests of what reads and jobs do with DATA_LOSS).
import { RECORD_HEADER_BYTES } from '../codec.js';
import { Family, offsetKey, subjectPrefix } from '../keys.js';
import { createDb } from '../storage.js';

export async function damageRecord(dataDir: string, subject: string, offset: number): Promise<void> {
  const db = createDb(dataDir);
  await db.open();
  try {
    const key = offsetKey(subjectPrefix(Family.record, subject), offset);
    const stored = await db.get(key);
    if (stored === undefined) throw new Error(`no record ${subject}#${offset} in ${dataDir}`);
    const value = Buffer.from(stored);
    value[RECORD_HEADER_BYTES] = (value[RECORD_HEADER_BYTES] ?? 0) ^ 0x01;
    await db.put(key, value);
  } finally {
    await db.close();
  }
}
