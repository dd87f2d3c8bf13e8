import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SubjectPattern } from './subject-pattern.js';

function pattern(source: string): SubjectPattern {
  const parsed = SubjectPattern.parse(source);
  assert.ok(parsed instanceof SubjectPattern, String(parsed));
  return parsed;
}

describe('SubjectPattern', () => {
  const cases: Array<[string, string, boolean]> = [
    ['orders', 'orders', true],
    ['orders', 'orders.eu', false],
    ['orders.*', 'orders.eu', true],
    ['orders.*', 'orders', false],
    ['orders.*', 'orders.eu.1', false],
    ['orders.>', 'orders.eu', true],
    ['orders.>', 'orders.eu.1', true],
    ['orders.>', 'orders', false],
    ['*.eu', 'orders.eu', true],
    ['*.eu', 'payments.us', false],
    ['>', 'anything.at.all', true],
    ['>', 'one', true],
    ['payments.tenantA', 'payments.tenantAB', false],
    ['a.*.c', 'a.b.c', true],
    ['a.*.c', 'a.b.d', false],
  ];
  for (const [source, subject, expected] of cases) {
    it(`should ${expected ? '' : 'not '}match "${subject}" with "${source}"`, () => {
      assert.equal(pattern(source).matches(subject), expected);
    });
  }

  describe('when the pattern is malformed', () => {
    it('should say why', () => {
      assert.equal(SubjectPattern.parse(''), 'a pattern cannot be empty');
      assert.equal(SubjectPattern.parse('a..b'), '"a..b" has an empty token');
      assert.equal(SubjectPattern.parse('a.>.b'), '"a.>.b": ">" may only be the last token');
      assert.equal(SubjectPattern.parse('a.b*'), '"a.b*": a wildcard must be a whole token ("b*")');
      assert.equal(SubjectPattern.parse('a b'), 'a pattern cannot hold whitespace');
    });
  });
});
