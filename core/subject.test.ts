import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { InvalidArgumentError, validateSubject } from './index.js';

describe('validateSubject', () => {
  it('should accept dotted, unicode and 255-byte subjects', () => {
    for (const s of ['orders', 'a.b.c', 'ünïcødé-主题', 'x'.repeat(255), '>*#']) assert.equal(validateSubject(s), s);
  });

  const rejected: Array<[string, string]> = [
    ['', 'subject must not be empty'],
    ['x'.repeat(256), 'subject is 256 bytes of UTF-8, over the limit of 255'],
    ['é'.repeat(128), 'subject is 256 bytes of UTF-8, over the limit of 255'],
    ['a b', 'subject must not contain whitespace or control characters (found U+0020 at index 1)'],
    ['tab\there', 'subject must not contain whitespace or control characters (found U+0009 at index 3)'],
    ['nul\u0000', 'subject must not contain whitespace or control characters (found U+0000 at index 3)'],
    ['nbsp\u00a0', 'subject must not contain whitespace or control characters (found U+00A0 at index 4)'],
    ['del\u007f', 'subject must not contain whitespace or control characters (found U+007F at index 3)'],
    ['lone\ud800', 'subject is not well-formed UTF-16 (lone surrogate)'],
  ];
  for (const [subject, message] of rejected) {
    it(`should reject ${JSON.stringify(subject).slice(0, 30)} with "${message}"`, () => {
      assert.throws(() => validateSubject(subject), { name: 'InvalidArgumentError', message });
    });
  }

  it('should name the field it checks and carry it as structured metadata', () => {
    assert.throws(
      () => validateSubject('', 'prefix'),
      (err: unknown) => {
        assert.ok(err instanceof InvalidArgumentError);
        assert.deepEqual(
          [err.message, err.field, err.reason, err.grpcCode, err.metadata],
          ['prefix must not be empty', 'prefix', 'INVALID_ARGUMENT', 3, { field: 'prefix' }],
        );
        return true;
      },
    );
  });

  it('should accept exactly the subjects that are non-empty, short enough and free of whitespace and controls', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), (s) => {
        const ok = s.length > 0 && Buffer.byteLength(s) <= 255 && !/[\p{White_Space}\p{Cc}]/u.test(s);
        let accepted = true;
        try {
          validateSubject(s);
        } catch {
          accepted = false;
        }
        assert.equal(accepted, ok);
      }),
    );
  });
});
