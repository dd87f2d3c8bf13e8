import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ceilingVerdict, limitVerdict, percentOf, ratioVerdict, times } from './verdict.js';

describe('ratioVerdict', () => {
  describe('when the ratio is exactly the target', () => {
    it('should be met (PublishStream at 1.5x NATS)', () => {
      assert.equal(ratioVerdict(15_000, 10_000, 1.5), 'met');
    });
    it('should be met (unary at 60% of echo)', () => {
      assert.equal(ratioVerdict(3, 5, 0.6), 'met');
    });
  });

  describe('when the ratio is just under the target', () => {
    it('should be missed', () => {
      assert.equal(ratioVerdict(14_999, 10_000, 1.5), 'missed');
      assert.equal(ratioVerdict(2.999, 5, 0.6), 'missed');
    });
  });

  describe('when the ratio is above the target', () => {
    it('should be met', () => {
      assert.equal(ratioVerdict(4_417, 4_625, 0.6), 'met');
    });
  });

  describe('when the reference measured nothing', () => {
    it('should be missed, not met by division by zero', () => {
      assert.equal(ratioVerdict(10_000, 0, 1), 'missed');
      assert.equal(ratioVerdict(0, 0, 0), 'missed');
    });
  });

  describe('when the measurement is not a number', () => {
    it('should be missed', () => {
      assert.equal(ratioVerdict(Number.NaN, 1, 0), 'missed');
    });
  });
});

describe('limitVerdict', () => {
  describe('when the value is under the limit', () => {
    it('should be met', () => {
      assert.equal(limitVerdict(9.99, 10), 'met');
    });
  });

  describe('when the value is exactly the limit', () => {
    it('should be missed (the target is strictly under: p99 < 10 ms)', () => {
      assert.equal(limitVerdict(10, 10), 'missed');
    });
  });

  describe('when the value is NaN', () => {
    it('should be missed', () => {
      assert.equal(limitVerdict(Number.NaN, 10), 'missed');
    });
  });
});

describe('ratio formats', () => {
  it('should print times with two decimals', () => {
    assert.equal(times(10_472, 14_991), '0.70x');
  });
  it('should print a whole percentage', () => {
    assert.equal(percentOf(4_417, 4_625), '96%');
  });
});

describe('ceilingVerdict', () => {
  it('should be met at the edge (e2e p99 equal to the fsync p99 + 2 ms)', () => {
    assert.equal(ceilingVerdict(9.5, 7.5 + 2), 'met');
  });
  it('should be missed just above the edge, and for NaN', () => {
    assert.equal(ceilingVerdict(9.51, 9.5), 'missed');
    assert.equal(ceilingVerdict(Number.NaN, 9.5), 'missed');
  });
});
