/**
 * Binary, order-preserving keys. Every key starts with a family byte; subject keys continue with the subject's
 * UTF-8 and a 0x00 terminator (subjects cannot contain control characters, so 0x00 never occurs inside one),
 * then a big-endian offset. Byte order therefore equals (family, subject, offset) order, and a prefix scan of
 * family + subject + 0x00 covers exactly one subject.
 */
export const Family = {
  /** Metadata of the data dir itself: 00 name -> value (today only the storage format version, see format-version.ts). */
  meta: 0x00,
  /** Records: R subject 0 offset -> record value. */
  record: 0x01,
  /** Subject heads: H subject -> head value (last offset ever acknowledged). */
  head: 0x02,
  /** Segment metadata: S subject 0 baseOffset -> segment value. */
  segment: 0x03,
  /** Sealed segments not yet replicated: U subject 0 baseOffset -> empty. */
  unreplicated: 0x04,
  /**
   * Active (unsealed) segments by age: A firstPublishMs(8) subject 0 baseOffset -> empty. Ordered by the time of
   * the segment's first record, so sealing stale segments scans only the stale ones.
   */
  active: 0x05,
  /** Segment deletions in progress, finished on the next open after a crash: D subject 0 baseOffset -> empty. */
  deleting: 0x06,
  /**
   * Acknowledged offsets lost with damaged files (recorded by the recovery pass at open, recovery.ts):
   * L subject 0 fromOffset -> toOffset (u64 BE), inclusive. Reads answer 'lost' for them, never 'removed'.
   */
  lost: 0x07,
  /**
   * Idempotency keys of recent appends: K subject 0 key(UTF-8) -> offset (u64 BE) · publishedAtMs (f64 BE), written
   * in the batch of the record it names (dedupe.ts). Expired by compaction, or overwritten when the key is reused.
   */
  dedupe: 0x08,
  /**
   * Id reservations (id-reserver.ts): V subject -> the highest id reserved in the shared store (u64 BE), put in the
   * batch that raises it there. Corrected down to the store's value at open when the store's write failed.
   */
  reservation: 0x09,
} as const;
export type Family = (typeof Family)[keyof typeof Family];

/** family + subject + 0x00: the prefix of every per-subject key of a family. */
export function subjectPrefix(family: Family, subject: string): Buffer {
  const len = Buffer.byteLength(subject, 'utf8');
  const buf = Buffer.allocUnsafe(len + 2);
  buf[0] = family;
  buf.write(subject, 1, 'utf8');
  buf[len + 1] = 0;
  return buf;
}

const TWO_32 = 2 ** 32;

/** Writes a non-negative safe integer as 8 big-endian bytes (without a BigInt on the hot path). */
export function writeUint64BE(buf: Buffer, value: number, at: number): void {
  buf.writeUInt32BE(Math.floor(value / TWO_32), at);
  buf.writeUInt32BE(value >>> 0, at + 4);
}

export function readUint64BE(buf: Buffer, at: number): number {
  return buf.readUInt32BE(at) * TWO_32 + buf.readUInt32BE(at + 4);
}

export function offsetKey(prefix: Buffer, offset: number): Buffer {
  const buf = Buffer.allocUnsafe(prefix.length + 8);
  prefix.copy(buf, 0);
  writeUint64BE(buf, offset, prefix.length);
  return buf;
}

/** A firstPublishMs(8) subject 0 baseOffset(8): the key of an active segment in the age index. */
export function activeKey(firstPublishMs: number, subject: string, baseOffset: number): Buffer {
  const len = Buffer.byteLength(subject, 'utf8');
  const buf = Buffer.allocUnsafe(1 + 8 + len + 1 + 8);
  buf[0] = Family.active;
  writeUint64BE(buf, Math.max(0, Math.floor(firstPublishMs)), 1);
  buf.write(subject, 9, 'utf8');
  buf[9 + len] = 0;
  writeUint64BE(buf, baseOffset, 10 + len);
  return buf;
}

/** The first key of the age index past every segment whose first record is at or before `ms`. */
export function activeKeyAfter(ms: number): Buffer {
  const buf = Buffer.allocUnsafe(9);
  buf[0] = Family.active;
  writeUint64BE(buf, Math.max(0, Math.floor(ms) + 1), 1);
  return buf;
}

export function parseActiveKey(key: Uint8Array): { subject: string; offset: number } {
  const buf = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  return { subject: buf.toString('utf8', 9, buf.length - 9), offset: readUint64BE(buf, buf.length - 8) };
}

/** 00 'format-version': where the data dir records its storage format version. */
export function formatVersionKey(): Buffer {
  return Buffer.from('\x00format-version', 'latin1');
}

export function headKey(subject: string): Buffer {
  const len = Buffer.byteLength(subject, 'utf8');
  const buf = Buffer.allocUnsafe(len + 1);
  buf[0] = Family.head;
  buf.write(subject, 1, 'utf8');
  return buf;
}

/** V subject: where a subject's id reservation is kept (like its head, no terminator). */
export function reservationKey(subject: string): Buffer {
  const len = Buffer.byteLength(subject, 'utf8');
  const buf = Buffer.allocUnsafe(len + 1);
  buf[0] = Family.reservation;
  buf.write(subject, 1, 'utf8');
  return buf;
}

/** K subject 0 key: where an idempotency key of a subject is kept. */
export function dedupeKey(prefix: Buffer, key: string): Buffer {
  const len = Buffer.byteLength(key, 'utf8');
  const buf = Buffer.allocUnsafe(prefix.length + len);
  prefix.copy(buf, 0);
  buf.write(key, prefix.length, 'utf8');
  return buf;
}

/** Splits a dedupe key back into its subject and idempotency key (the subject ends at its 0x00 terminator). */
export function parseDedupeKey(key: Uint8Array): { subject: string; key: string } {
  const buf = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  const end = buf.indexOf(0, 1);
  return { subject: buf.toString('utf8', 1, end), key: buf.toString('utf8', end + 1) };
}

/** The smallest key of a family, and the first key past it. */
export function familyBounds(family: Family): { gte: Buffer; lt: Buffer } {
  return { gte: Buffer.from([family]), lt: Buffer.from([family + 1]) };
}

/** Splits a per-subject key (family, subject, 0x00, offset) back into its subject and offset. */
export function parseOffsetKey(key: Uint8Array): { subject: string; offset: number } {
  const buf = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  const subjectEnd = buf.length - 9;
  return {
    subject: buf.toString('utf8', 1, subjectEnd),
    offset: readUint64BE(buf, subjectEnd + 1),
  };
}

export function parseHeadKey(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('utf8', 1);
}

/** The subject of a reservation key (laid out as a head key). */
export const parseReservationKey = parseHeadKey;

/** The least key greater than every key that starts with `prefix` (for exclusive upper bounds of prefix scans). */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    const byte = end.readUInt8(i);
    if (byte < 0xff) {
      end[i] = byte + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0xff, 0xff, 0xff, 0xff]);
}
