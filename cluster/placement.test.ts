import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { placeOwner, placement, placementScore } from './placement.js';

const members = (n: number, prefix = 'broker-'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** The partitions whose owner differs between two placements. */
function moved(before: readonly string[], after: readonly string[]): number[] {
  return before.flatMap((owner, p) => (after[p] === owner ? [] : [p]));
}

describe('placement', () => {
  describe('when scoring', () => {
    it('should give the pinned scores (every broker version must place partitions alike)', () => {
      assert.equal(placementScore('b0', 0), 2440620861);
      assert.equal(placementScore('b1', 0), 924269020);
      assert.equal(placementScore('broker-2', 7), 2201418345);
      assert.equal(placementScore('b0/w1', 1023), 2259156690);
    });

    it('should place a partition on the member with the highest score', () => {
      const ids = members(5);
      for (let p = 0; p < 64; p++) {
        const best = Math.max(...ids.map((id) => placementScore(id, p)));
        assert.equal(placementScore(placeOwner(p, ids) ?? '', p), best);
      }
    });

    it('should not depend on the order the members are listed in', () => {
      const ids = members(7);
      assert.deepEqual(placement(256, ids), placement(256, [...ids].reverse()));
    });

    it('should place nothing without members', () => {
      assert.equal(placeOwner(0, []), undefined);
      assert.deepEqual(placement(16, []), []);
    });
  });

  describe('when a member joins', () => {
    it('should move only the partitions the new member takes', () => {
      for (const n of [1, 2, 3, 7]) {
        const before = placement(1024, members(n));
        const after = placement(1024, [...members(n), 'newcomer']);
        const changed = moved(before, after);
        assert.ok(changed.length > 0, `${n} members: the newcomer took nothing`);
        for (const p of changed) assert.equal(after[p], 'newcomer', `${n} members: partition ${p} moved elsewhere`);
      }
    });
  });

  describe('when a member leaves', () => {
    it('should move only the partitions the leaving member had', () => {
      for (const n of [2, 3, 4, 8]) {
        const ids = members(n);
        const before = placement(1024, ids);
        const gone = ids[1] ?? '';
        const after = placement(
          1024,
          ids.filter((id) => id !== gone),
        );
        const changed = moved(before, after);
        assert.deepEqual(
          changed,
          before.flatMap((owner, p) => (owner === gone ? [p] : [])),
          `${n} members: a partition of another member moved`,
        );
      }
    });
  });

  describe('when partitions are spread', () => {
    it('should give each member a fair share of many partitions', () => {
      for (const n of [2, 3, 4, 8]) {
        const counts = new Map<string, number>();
        for (const owner of placement(4096, members(n, 'b'))) counts.set(owner, (counts.get(owner) ?? 0) + 1);
        assert.equal(counts.size, n);
        for (const [id, count] of counts) {
          const share = count / (4096 / n);
          assert.ok(share > 0.85 && share < 1.15, `${n} members: ${id} has ${count} of 4096 partitions`);
        }
      }
    });
  });
});
