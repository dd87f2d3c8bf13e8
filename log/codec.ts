import type { LogRecord, SegmentInfo } from '../core/index.js';
import { readUint64BE, writeUint64BE } from './keys.js';
import { recordChecksum } from './record-checksum.js';

/** An idempotency key's value: the offset of the append that used it and its publish time. */
export interface DedupeEntry {
  readonly offset: number;
  readonly publishedAtMs: number;
}

/** offset (u64 BE) · publishedAtMs (f64 BE): 16 bytes. */
export function encodeDedupe(offset: number, publishedAtMs: number): Buffer {
  const buf = Buffer.allocUnsafe(16);
  writeUint64BE(buf, offset, 0);
  buf.writeDoubleBE(publishedAtMs, 8);
  return buf;
}

/** undefined for a value of the wrong size (damage): the key is then treated as unknown. */
export function decodeDedupe(value: Uint8Array): DedupeEntry | undefined {
  if (value.byteLength !== 16) return undefined;
  const buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  return { offset: readUint64BE(buf, 0), publishedAtMs: buf.readDoubleBE(8) };
}

/** The value of every index key (unreplicated, active by age, deleting): empty, the key says it all. */
export const INDEX_VALUE: Buffer = Buffer.alloc(0);

/**
 * Record value, format 2: tag 0x82 · crc32c (u32 BE) · publishedAtMs (f64 BE) · expirationSeconds (i32 BE) · body.
 * The CRC32C covers the record's key (family, subject, offset: a value under another key fails too) and every value
 * byte after the CRC, as Kafka's record batches and JetStream's file store checksum what they store. LevelDB does not
 * verify its own block checksums on reads (classic-level exposes no option for it), so this is what stands between a
 * damaged table file and a wrong body served as OK.
 *
 * Format 1 values (written before format version 2, never rewritten) have no tag and no checksum: publishedAtMs
 * (f64 BE) · expirationSeconds (i32 BE) · body. Their first byte is the sign and top exponent bits of a float64
 * timestamp: 0x00 for 0 ms, 0x3f–0x43 from 2^-15 ms up to 2^65 ms (0x42 for every date from April 1970 to the year
 * 19809), never one with the high bit set (that is a negative time). The tag 0x82 has it set, and differs in at least
 * two bits from every format 1 first byte, so one flipped bit in a tag reads as damage (an unknown first byte), never
 * as format 1.
 */
export const RECORD_TAG = 0x82;
const CRC_AT = 1;
/** Where the checksummed header fields of a format 2 value begin (the body follows them). */
const CHECKED_FROM = 5;
export const RECORD_HEADER_BYTES = 17;
const V1_HEADER_BYTES = 12;

/** The record value of an append: its CRC32C covers `key` (the record's key) and the value after the CRC. */
export function encodeRecordValue(
  key: Uint8Array,
  publishedAtMs: number,
  expirationSeconds: number,
  body: Uint8Array,
): Buffer {
  const buf = Buffer.allocUnsafe(RECORD_HEADER_BYTES + body.length);
  buf[0] = RECORD_TAG;
  buf.writeDoubleBE(publishedAtMs, CHECKED_FROM);
  buf.writeInt32BE(expirationSeconds, CHECKED_FROM + 8);
  buf.set(body, RECORD_HEADER_BYTES);
  // Summed over the caller's body: the same bytes as the copy, and no view of the value to make.
  buf.writeUInt32BE(recordChecksum(key, buf, CHECKED_FROM, RECORD_HEADER_BYTES, body), CRC_AT);
  return buf;
}

/**
 * Decodes a stored record value read under `key`: a format 2 value whose checksum holds, or a format 1 value
 * (unchecked: it has no checksum). Anything else (a checksum mismatch, an unknown first byte, a value too short for
 * its header) is damage: undefined, and the caller must not serve the record.
 */
export function decodeRecordValue(
  subject: string,
  offset: number,
  key: Uint8Array,
  value: Uint8Array,
): LogRecord | undefined {
  const buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  const first = buf[0];
  if (first === RECORD_TAG) {
    if (buf.length < RECORD_HEADER_BYTES) return undefined;
    const body = buf.subarray(RECORD_HEADER_BYTES);
    const sum = recordChecksum(key, buf, CHECKED_FROM, RECORD_HEADER_BYTES, body);
    return sum === buf.readUInt32BE(CRC_AT) ? record(subject, offset, buf, CHECKED_FROM, body) : undefined;
  }
  if (isFormat1Lead(first) && buf.length >= V1_HEADER_BYTES)
    return record(subject, offset, buf, 0, buf.subarray(V1_HEADER_BYTES));
  return undefined;
}

/** The body bytes of a stored record value of either format (unchecked: for counting, not for serving). */
export function recordValueBodyBytes(value: Uint8Array): number {
  return value.byteLength - (value[0] === RECORD_TAG ? RECORD_HEADER_BYTES : V1_HEADER_BYTES);
}

/** A first byte a format 1 value can start with: a float64 ms timestamp of 0 (0x00) or 2^-15 to 2^65 (0x3f–0x43). */
function isFormat1Lead(first: number | undefined): boolean {
  return first === 0x00 || (first !== undefined && first >= 0x3f && first <= 0x43);
}

/** publishedAtMs (f64) and expirationSeconds (i32) from `at`, and the body. */
function record(subject: string, offset: number, buf: Buffer, at: number, body: Buffer): LogRecord {
  return { subject, offset, publishedAtMs: buf.readDoubleBE(at), expirationSeconds: buf.readInt32BE(at + 8), body };
}

// Format version value: uint32. A value of another width is not a version this build wrote.
export function encodeFormatVersion(version: number): Buffer {
  const buf = Buffer.allocUnsafe(4);
  buf.writeUInt32BE(version, 0);
  return buf;
}

export function decodeFormatVersion(value: Uint8Array): number | undefined {
  if (value.byteLength !== 4) return undefined;
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength).readUInt32BE(0);
}

// Head value: lastOffset (uint64). Written in the same batch as the records it covers.
export function encodeHead(lastOffset: number): Buffer {
  const buf = Buffer.allocUnsafe(8);
  writeUint64BE(buf, lastOffset, 0);
  return buf;
}

export function decodeHead(value: Uint8Array): number {
  return readUint64BE(Buffer.from(value.buffer, value.byteOffset, value.byteLength), 0);
}

/** Mutable segment metadata as the log keeps it in memory; `deleting` marks a deletion in progress (crash recovery). */
export interface SegmentState {
  baseOffset: number;
  lastOffset: number;
  count: number;
  bytes: number;
  firstPublishMs: number;
  lastPublishMs: number;
  maxExplicitExpiryMs: number;
  lastRetentionPublishMs: number;
  sealed: boolean;
  replicated: boolean;
  deleting: boolean;
  /**
   * Every record of it was written to the cold tier by its group commit before being acknowledged (acks=replicated,
   * in this process's lifetime: set when it opens under a replica, cleared at every open and write recovery while
   * it is active), so sealing it owes no copy (segment-roller.ts). Absent from older values: false, copied as before.
   */
  mirrored: boolean;
}

// Segment value: 8 float64 fields then a flags byte. Fixed width, so encoding allocates one small buffer.
const SEGMENT_BYTES = 8 * 8 + 1;

export function encodeSegment(s: SegmentState): Buffer {
  const buf = Buffer.allocUnsafe(SEGMENT_BYTES);
  buf.writeDoubleBE(s.baseOffset, 0);
  buf.writeDoubleBE(s.lastOffset, 8);
  buf.writeDoubleBE(s.count, 16);
  buf.writeDoubleBE(s.bytes, 24);
  buf.writeDoubleBE(s.firstPublishMs, 32);
  buf.writeDoubleBE(s.lastPublishMs, 40);
  buf.writeDoubleBE(s.maxExplicitExpiryMs, 48);
  buf.writeDoubleBE(s.lastRetentionPublishMs, 56);
  buf[64] = (s.sealed ? 1 : 0) | (s.replicated ? 2 : 0) | (s.deleting ? 4 : 0) | (s.mirrored ? 8 : 0);
  return buf;
}

export function decodeSegment(value: Uint8Array): SegmentState {
  const buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  const flags = buf.readUInt8(64);
  return {
    baseOffset: buf.readDoubleBE(0),
    lastOffset: buf.readDoubleBE(8),
    count: buf.readDoubleBE(16),
    bytes: buf.readDoubleBE(24),
    firstPublishMs: buf.readDoubleBE(32),
    lastPublishMs: buf.readDoubleBE(40),
    maxExplicitExpiryMs: buf.readDoubleBE(48),
    lastRetentionPublishMs: buf.readDoubleBE(56),
    sealed: (flags & 1) !== 0,
    replicated: (flags & 2) !== 0,
    deleting: (flags & 4) !== 0,
    mirrored: (flags & 8) !== 0,
  };
}

export function segmentInfo(subject: string, s: SegmentState): SegmentInfo {
  return {
    subject,
    baseOffset: s.baseOffset,
    lastOffset: s.lastOffset,
    count: s.count,
    bytes: s.bytes,
    firstPublishMs: s.firstPublishMs,
    lastPublishMs: s.lastPublishMs,
    maxExplicitExpiryMs: s.maxExplicitExpiryMs,
    lastRetentionPublishMs: s.lastRetentionPublishMs,
    sealed: s.sealed,
    replicated: s.replicated,
  };
}
