import type { LogRecord, SegmentInfo } from '../core/index.js';
import { readUint64BE, writeUint64BE } from './keys.js';

/** The value of every index key (unreplicated, active by age, deleting): empty, the key says it all. */
export const INDEX_VALUE: Buffer = Buffer.alloc(0);

// Record value: publishedAtMs (float64, exact for ms timestamps) | expirationSeconds (int32) | body.
export const RECORD_HEADER_BYTES = 12;
const RECORD_HEADER = RECORD_HEADER_BYTES;

export function encodeRecordValue(publishedAtMs: number, expirationSeconds: number, body: Uint8Array): Buffer {
  const buf = Buffer.allocUnsafe(RECORD_HEADER + body.length);
  buf.writeDoubleBE(publishedAtMs, 0);
  buf.writeInt32BE(expirationSeconds, 8);
  buf.set(body, RECORD_HEADER);
  return buf;
}

export function decodeRecordValue(subject: string, offset: number, value: Uint8Array): LogRecord {
  const buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  return {
    subject,
    offset,
    publishedAtMs: buf.readDoubleBE(0),
    expirationSeconds: buf.readInt32BE(8),
    body: buf.subarray(RECORD_HEADER),
  };
}

export function recordValueBodyBytes(value: Uint8Array): number {
  return value.byteLength - RECORD_HEADER;
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
  buf[64] = (s.sealed ? 1 : 0) | (s.replicated ? 2 : 0) | (s.deleting ? 4 : 0);
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
