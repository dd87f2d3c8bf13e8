import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  INDEX_VALUE,
  decodeFormatVersion,
  decodeHead,
  decodeRecordValue,
  decodeSegment,
  encodeFormatVersion,
  encodeHead,
  encodeRecordValue,
  encodeSegment,
  type SegmentState,
} from './codec.js';

// Golden values: what a data dir holds (README "On-disk layout"). A change here is a storage format change
// (format-version.ts), never a refactoring.

/** 1_700_000_000_123 ms as a float64, big-endian. */
const PUBLISHED_HEX = '4278bcfe5687b000';

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
  describe('when encoding a record value', () => {
    it('should write publishedAtMs (f64) · expirationSeconds (i32) · body and read it back', () => {
      const hex = PUBLISHED_HEX + '0000003c' + '6869';
      assert.equal(encodeRecordValue(1_700_000_000_123, 60, Buffer.from('hi')).toString('hex'), hex);
      const record = decodeRecordValue('orders', 7, Buffer.from(hex, 'hex'));
      assert.deepEqual(
        { ...record, body: Buffer.from(record.body).toString() },
        {
          subject: 'orders',
          offset: 7,
          publishedAtMs: 1_700_000_000_123,
          expirationSeconds: 60,
          body: 'hi',
        },
      );
    });

    it('should write an empty body as the 12-byte header alone', () => {
      const hex = PUBLISHED_HEX + '00000000';
      assert.equal(encodeRecordValue(1_700_000_000_123, 0, Buffer.alloc(0)).toString('hex'), hex);
      assert.equal(decodeRecordValue('s', 1, Buffer.from(hex, 'hex')).body.length, 0);
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
      assert.equal(encodeFormatVersion(1).toString('hex'), '00000001');
      assert.equal(decodeFormatVersion(Buffer.from('00000001', 'hex')), 1);
      assert.equal(decodeFormatVersion(Buffer.from('0001', 'hex')), undefined);
    });

    it('should write index values (unreplicated, active, deleting) empty', () => {
      assert.equal(INDEX_VALUE.length, 0);
    });
  });
});
