import fc from 'fast-check';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LogRecord } from '../core/index.js';
import {
  INDEX_VALUE,
  RECORD_TAG,
  decodeFormatVersion,
  decodeHead,
  decodeRecordValue,
  decodeSegment,
  encodeFormatVersion,
  encodeHead,
  encodeRecordValue,
  encodeSegment,
  recordValueBodyBytes,
  type SegmentState,
} from './codec.js';
import { Family, offsetKey, subjectPrefix } from './keys.js';

// Golden values: what a data dir holds (README "On-disk layout"). A change here is a storage format change
// (format-version.ts), never a refactoring.

/** 1_700_000_000_123 ms as a float64, big-endian. */
const PUBLISHED_HEX = '4278bcfe5687b000';
/** 'hi' on 'orders' at offset 7, published at 1_700_000_000_123 with an expiration of 60 s, as format 2 writes it. */
const V2_HEX = '82' + '7de8b6dc' + PUBLISHED_HEX + '0000003c' + '6869';
/** The same record as format 1 wrote it (before format version 2): no tag, no checksum. */
const V1_HEX = PUBLISHED_HEX + '0000003c' + '6869';

function recordKey(subject: string, offset: number): Buffer {
  return offsetKey(subjectPrefix(Family.record, subject), offset);
}

/** How format 1 encoded a record value (the encoder is gone; the decoder still reads it). */
function encodeV1(publishedAtMs: number, expirationSeconds: number, body: Uint8Array): Buffer {
  const buf = Buffer.alloc(12 + body.length);
  buf.writeDoubleBE(publishedAtMs, 0);
  buf.writeInt32BE(expirationSeconds, 8);
  buf.set(body, 12);
  return buf;
}

/** A decoded record with its body as text (deepEqual-friendly). */
function text(record: LogRecord | undefined): unknown {
  return record === undefined ? undefined : { ...record, body: Buffer.from(record.body).toString() };
}

/** CRC-32C, bit by bit (reflected polynomial 0x82f63b78): an implementation independent of the library's. */
function crc32cBitwise(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

const SEGMENT: SegmentState = {
  baseOffset: 4,
  lastOffset: 6,
  count: 2,
  bytes: 300,
  firstPublishMs: 1_700_000_000_000,
  lastPublishMs: 1_700_000_001_000,
  maxExplicitExpiryMs: 1_700_000_060_000,
  lastRetentionPublishMs: 1_700_000_000_500,
  sealed: true,
  replicated: true,
  deleting: false,
  mirrored: false,
};
const SEGMENT_HEX = [
  '4010000000000000', // baseOffset 4
  '4018000000000000', // lastOffset 6
  '4000000000000000', // count 2
  '4072c00000000000', // bytes 300
  '4278bcfe56800000', // firstPublishMs
  '4278bcfe56be8000', // lastPublishMs
  '4278bcfe65260000', // maxExplicitExpiryMs
  '4278bcfe569f4000', // lastRetentionPublishMs
  '03', // flags: sealed (1) | replicated (2)
].join('');

describe('codec', () => {
  describe('when encoding a record value (format 2)', () => {
    it('should write tag 0x82 · crc32c · publishedAtMs (f64) · expirationSeconds (i32) · body and read it back', () => {
      const key = recordKey('orders', 7);
      assert.equal(key.toString('hex'), '016f7264657273000000000000000007');
      assert.equal(encodeRecordValue(key, 1_700_000_000_123, 60, Buffer.from('hi')).toString('hex'), V2_HEX);
      assert.deepEqual(text(decodeRecordValue('orders', 7, key, Buffer.from(V2_HEX, 'hex'))), {
        subject: 'orders',
        offset: 7,
        publishedAtMs: 1_700_000_000_123,
        expirationSeconds: 60,
        body: 'hi',
      });
    });

    it('should write an empty body as the 17-byte header alone', () => {
      const hex = '82' + '98e09bc4' + PUBLISHED_HEX + '00000000';
      const key = recordKey('s', 1);
      assert.equal(encodeRecordValue(key, 1_700_000_000_123, 0, Buffer.alloc(0)).toString('hex'), hex);
      assert.equal(decodeRecordValue('s', 1, key, Buffer.from(hex, 'hex'))?.body.length, 0);
    });

    it('should compute the standard CRC32C (Castagnoli) over the key, then the value after the checksum', () => {
      // The check value of CRC-32C, and a bitwise implementation of it over the same bytes as the golden value.
      assert.equal(crc32cBitwise(Buffer.from('123456789')), 0xe3069283);
      const value = Buffer.from(V2_HEX, 'hex');
      const covered = Buffer.concat([recordKey('orders', 7), value.subarray(5)]);
      assert.equal(value.readUInt32BE(1), crc32cBitwise(covered));
    });

    it('should count the body bytes of a stored value of either format (2 for both golden values)', () => {
      assert.equal(recordValueBodyBytes(Buffer.from(V2_HEX, 'hex')), 2);
      assert.equal(recordValueBodyBytes(Buffer.from(V1_HEX, 'hex')), 2);
    });

    it('should refuse (undefined) the value under any other key: another offset, another subject', () => {
      const value = Buffer.from(V2_HEX, 'hex');
      assert.equal(decodeRecordValue('orders', 8, recordKey('orders', 8), value), undefined);
      assert.equal(decodeRecordValue('order', 7, recordKey('order', 7), value), undefined);
    });

    it('should refuse (undefined) the value with any one bit flipped, the tag and the checksum included', () => {
      const key = recordKey('orders', 7);
      const value = Buffer.from(V2_HEX, 'hex');
      for (let bit = 0; bit < value.length * 8; bit++) {
        const damaged = Buffer.from(value);
        damaged[bit >> 3] = (damaged[bit >> 3] ?? 0) ^ (1 << (bit & 7));
        assert.equal(decodeRecordValue('orders', 7, key, damaged), undefined, `bit ${bit}`);
      }
    });

    it('should refuse (undefined) a tagged value shorter than its header, and an unknown first byte', () => {
      const key = recordKey('orders', 7);
      assert.equal(decodeRecordValue('orders', 7, key, Buffer.from(V2_HEX, 'hex').subarray(0, 16)), undefined);
      for (const first of ['01', '80', 'c2', 'ff'])
        assert.equal(decodeRecordValue('orders', 7, key, Buffer.from(first + V1_HEX.slice(2), 'hex')), undefined);
    });
  });

  describe('when decoding a record value of format 1 (written before format version 2)', () => {
    it('should read publishedAtMs (f64) · expirationSeconds (i32) · body, unchecked, under any key', () => {
      for (const key of [recordKey('orders', 7), recordKey('other', 9)]) {
        assert.deepEqual(text(decodeRecordValue('orders', 7, key, Buffer.from(V1_HEX, 'hex'))), {
          subject: 'orders',
          offset: 7,
          publishedAtMs: 1_700_000_000_123,
          expirationSeconds: 60,
          body: 'hi',
        });
      }
    });

    it('should read the 12-byte header alone as an empty body, and a publish time of 0', () => {
      const record = decodeRecordValue('s', 1, recordKey('s', 1), Buffer.from('0000000000000000' + '00000000', 'hex'));
      assert.deepEqual(
        { ...record, body: record?.body.length },
        {
          subject: 's',
          offset: 1,
          publishedAtMs: 0,
          expirationSeconds: 0,
          body: 0,
        },
      );
    });

    it('should never start with the tag: the first byte of a ms timestamp as a float64 is 0x00 or 0x3f–0x43', () => {
      // Not 0x00 as for an integer: publishedAtMs is a float64, so a date today starts 0x42 (sign and exponent).
      assert.equal(PUBLISHED_HEX.slice(0, 2), '42');
      fc.assert(
        fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (ms) => {
          const first = Buffer.from(encodeV1(ms, 0, Buffer.alloc(0))).readUInt8(0);
          return first !== RECORD_TAG && (first === 0 || (first >= 0x3f && first <= 0x43));
        }),
      );
    });
  });

  describe('when encoding a head', () => {
    it('should write the last offset as a u64 big-endian, up to the largest safe integer', () => {
      assert.equal(encodeHead(10).toString('hex'), '000000000000000a');
      assert.equal(encodeHead(Number.MAX_SAFE_INTEGER).toString('hex'), '001fffffffffffff');
      assert.equal(decodeHead(Buffer.from('000000000000000a', 'hex')), 10);
      assert.equal(decodeHead(Buffer.from('001fffffffffffff', 'hex')), Number.MAX_SAFE_INTEGER);
    });
  });

  describe('when encoding segment metadata', () => {
    it('should write eight f64 fields and a flags byte (65 bytes) and read them back', () => {
      assert.equal(encodeSegment(SEGMENT).toString('hex'), SEGMENT_HEX);
      assert.deepEqual(decodeSegment(Buffer.from(SEGMENT_HEX, 'hex')), SEGMENT);
    });

    it('should keep the mirrored flag in bit 8, absent (false) from values written before it', () => {
      const hex = encodeSegment({ ...SEGMENT, replicated: false, mirrored: true }).toString('hex');
      assert.equal(hex.slice(-2), '09', 'sealed (1) | mirrored (8)');
      assert.equal(decodeSegment(Buffer.from(hex, 'hex')).mirrored, true);
      assert.equal(decodeSegment(Buffer.from(SEGMENT_HEX, 'hex')).mirrored, false, 'a value of an older broker');
    });

    it('should keep the deleting flag in bit 4', () => {
      const deleting: SegmentState = {
        ...SEGMENT,
        count: 0,
        bytes: 0,
        sealed: false,
        replicated: false,
        deleting: true,
      };
      const hex = encodeSegment(deleting).toString('hex');
      assert.equal(hex.slice(-2), '04');
      assert.deepEqual(decodeSegment(Buffer.from(hex, 'hex')), deleting);
    });
  });

  describe('when encoding the format version and index values', () => {
    it('should write the format version as a u32 big-endian, and refuse other widths', () => {
      assert.equal(encodeFormatVersion(2).toString('hex'), '00000002');
      assert.equal(decodeFormatVersion(Buffer.from('00000002', 'hex')), 2);
      assert.equal(decodeFormatVersion(Buffer.from('00000001', 'hex')), 1);
      assert.equal(decodeFormatVersion(Buffer.from('0001', 'hex')), undefined);
    });

    it('should write index values (unreplicated, active, deleting) empty', () => {
      assert.equal(INDEX_VALUE.length, 0);
    });
  });
});
