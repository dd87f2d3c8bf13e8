import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { validateSubject } from '../core/index.js';
import {
  Family,
  activeKey,
  activeKeyAfter,
  formatVersionKey,
  headKey,
  parseReservationKey,
  reservationKey,
  offsetKey,
  parseActiveKey,
  parseHeadKey,
  parseOffsetKey,
  subjectPrefix,
} from './keys.js';

// Golden keys: the on-disk layout (README "On-disk layout"). A data dir written by an earlier build holds these
// bytes, so a change here is a storage format change (format-version.ts), never a refactoring.
const SEGMENT_KEYED: ReadonlyArray<{ family: Family; name: string; hex: string }> = [
  { family: Family.record, name: 'record', hex: '01' + '6f7264657273' + '00' + '0000000000000004' },
  { family: Family.segment, name: 'segment', hex: '03' + '6f7264657273' + '00' + '0000000000000004' },
  { family: Family.unreplicated, name: 'unreplicated', hex: '04' + '6f7264657273' + '00' + '0000000000000004' },
  { family: Family.deleting, name: 'deleting', hex: '06' + '6f7264657273' + '00' + '0000000000000004' },
];

const PER_SUBJECT_FAMILIES = [Family.record, Family.segment, Family.unreplicated, Family.deleting] as const;

/** Valid subjects, with short ones that are prefixes of each other and characters whose UTF-16 and UTF-8 orders differ. */
const subjectArb = fc.oneof(
  fc.constantFrom('a', 'ab', 'a.b', 'a-', 'b', 'é', '\uFFFD', '\u{1F600}', 'orders'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }).filter((s) => {
    try {
      validateSubject(s);
      return true;
    } catch {
      return false;
    }
  }),
);
const offsetArb = fc.oneof(fc.nat(20), fc.maxSafeNat());

function sign(n: number): number {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

/** (family, subject as UTF-8 bytes, offset), compared in that order. */
function compareTuples(a: [number, string, number], b: [number, string, number]): number {
  if (a[0] !== b[0]) return a[0] - b[0];
  const bySubject = Buffer.compare(Buffer.from(a[1], 'utf8'), Buffer.from(b[1], 'utf8'));
  if (bySubject !== 0) return bySubject;
  return a[2] - b[2];
}

describe('keys', () => {
  describe('when encoding each key family', () => {
    for (const { family, name, hex } of SEGMENT_KEYED) {
      it(`should write the ${name} key as family · subject · 00 · offset(8) and read it back`, () => {
        const key = offsetKey(subjectPrefix(family, 'orders'), 4);
        assert.equal(key.toString('hex'), hex);
        assert.deepEqual(parseOffsetKey(Buffer.from(hex, 'hex')), { subject: 'orders', offset: 4 });
      });
    }

    it('should write subjects as UTF-8 and offsets as 8 big-endian bytes beyond 32 bits', () => {
      const hex = '01' + 'c3a9' + '00' + '0000010000000005';
      assert.equal(offsetKey(subjectPrefix(Family.record, 'é'), 2 ** 40 + 5).toString('hex'), hex);
      assert.deepEqual(parseOffsetKey(Buffer.from(hex, 'hex')), { subject: 'é', offset: 2 ** 40 + 5 });
    });

    it('should write the head key as 02 · subject, without a terminator', () => {
      assert.equal(headKey('orders').toString('hex'), '02' + '6f7264657273');
      assert.equal(parseHeadKey(Buffer.from('026f7264657273', 'hex')), 'orders');
    });

    it('should write the reservation key as 09 · subject, without a terminator', () => {
      assert.equal(reservationKey('orders').toString('hex'), '09' + '6f7264657273');
      assert.equal(parseReservationKey(reservationKey('é.日本')), 'é.日本');
    });

    it('should write the age index key as 05 · firstPublishMs(8) · subject · 00 · baseOffset(8)', () => {
      const hex = '05' + '0000018bcfe56800' + '6f7264657273' + '00' + '0000000000000004';
      assert.equal(activeKey(1_700_000_000_000, 'orders', 4).toString('hex'), hex);
      assert.deepEqual(parseActiveKey(Buffer.from(hex, 'hex')), { subject: 'orders', offset: 4 });
      assert.equal(activeKeyAfter(1_700_000_000_000).toString('hex'), '05' + '0000018bcfe56801');
    });

    it('should write the format version key as 00 · "format-version"', () => {
      assert.equal(formatVersionKey().toString('hex'), '00' + '666f726d61742d76657273696f6e');
    });
  });

  describe('when keys are compared as bytes', () => {
    it('should order per-subject keys by (family, subject as UTF-8 bytes, offset) and parse them back', () => {
      const keyed = fc.tuple(fc.constantFrom(...PER_SUBJECT_FAMILIES), subjectArb, offsetArb);
      fc.assert(
        fc.property(keyed, keyed, (a, b) => {
          const keyA = offsetKey(subjectPrefix(a[0], a[1]), a[2]);
          const keyB = offsetKey(subjectPrefix(b[0], b[1]), b[2]);
          assert.equal(sign(Buffer.compare(keyA, keyB)), sign(compareTuples(a, b)));
          assert.deepEqual(parseOffsetKey(keyA), { subject: a[1], offset: a[2] });
        }),
        { numRuns: 2000 },
      );
    });

    it('should order head keys by subject as UTF-8 bytes', () => {
      fc.assert(
        fc.property(subjectArb, subjectArb, (a, b) => {
          const bytes = Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
          assert.equal(sign(Buffer.compare(headKey(a), headKey(b))), sign(bytes));
          assert.equal(parseHeadKey(headKey(a)), a);
        }),
        { numRuns: 1000 },
      );
    });

    it('should order the age index by (firstPublishMs, subject, baseOffset) and bound it by time', () => {
      const aged = fc.tuple(fc.nat(2 ** 45), subjectArb, offsetArb);
      fc.assert(
        fc.property(aged, aged, fc.nat(2 ** 45), (a, b, cutoff) => {
          const keyA = activeKey(a[0], a[1], a[2]);
          const keyB = activeKey(b[0], b[1], b[2]);
          assert.equal(sign(Buffer.compare(keyA, keyB)), sign(compareTuples(a, b)));
          assert.deepEqual(parseActiveKey(keyA), { subject: a[1], offset: a[2] });
          // The stale-segment scan reads [05, activeKeyAfter(cutoff)): exactly the segments opened at or before it.
          assert.equal(Buffer.compare(keyA, activeKeyAfter(cutoff)) < 0, a[0] <= cutoff);
        }),
        { numRuns: 1000 },
      );
    });
  });
});
