import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { okPerSecond } from './ghz.js';

describe('okPerSecond', () => {
  // A real ghz report: -c 4 --rps 200 -z 2s --skipFirst 100 against the Go peer: 400 calls made, 300 reported.
  const paced = { count: 300, total: 2_008_298_461, statusCodeDistribution: { OK: 300 } };

  it('should count the calls --skipFirst left out of the report (200/s asked, not the 149/s ghz prints)', () => {
    assert.equal(Math.round(okPerSecond(paced, 100)), 199);
  });

  it('should be the report as it is when nothing was skipped', () => {
    assert.equal(Math.round(okPerSecond(paced, 0)), 149);
  });

  it("should count only the run's share of OK calls", () => {
    const half = { ...paced, statusCodeDistribution: { OK: 150, Unavailable: 150 } };
    assert.equal(Math.round(okPerSecond(half, 100)), 100);
  });

  it('should be 0 when no call was reported (a run shorter than its skipped calls)', () => {
    assert.equal(okPerSecond({ count: 0, total: 2e9, statusCodeDistribution: {} }, 640), 0);
  });
});
