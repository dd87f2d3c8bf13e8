import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tempLog } from '../log/test-support/temp-log.js';
import { Compactor, SteadyClock, type ClockStep } from './index.js';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const T0 = 1_800_000_000_000;

/** A wall clock and a monotonic clock the test moves; step() moves only the wall clock. */
function clocks(): { wall: () => number; monotonic: () => number; advance(ms: number): void; step(ms: number): void } {
  let wall = T0;
  let mono = 0;
  return {
    wall: () => wall,
    monotonic: () => mono,
    advance(ms) {
      wall += ms;
      mono += ms;
    },
    step(ms) {
      wall += ms;
    },
  };
}

describe('SteadyClock', () => {
  describe('when the wall clock jumps forward 30 days in one step', () => {
    it('should let compaction delete only what had expired by monotonic time, and report the step', async () => {
      const time = clocks();
      const steps: ClockStep[] = [];
      const clock = new SteadyClock({ wall: time.wall, monotonic: time.monotonic, onStep: (s) => steps.push(s) });
      const ctx = await tempLog({ segmentMaxRecords: 1, now: time.wall });
      try {
        // One record per segment; the trailing one rolls (seals) the segment before it.
        await ctx.log.append({ subject: 'minute', body: Buffer.from('a'), expirationSeconds: 60 });
        await ctx.log.append({ subject: 'minute', body: Buffer.from('z'), expirationSeconds: 0 });
        await ctx.log.append({ subject: 'tenDays', body: Buffer.from('b'), expirationSeconds: 10 * 86_400 });
        await ctx.log.append({ subject: 'tenDays', body: Buffer.from('z'), expirationSeconds: 0 });
        const compactor = new Compactor(ctx.log, { retentionMs: 0, localRetentionMs: 0, localRetentionBytes: 0 });
        time.advance(2 * MINUTE);
        time.step(30 * DAY);

        const now = clock.now();
        assert.equal(now, T0 + 2 * MINUTE);
        const result = await compactor.run(now);

        assert.equal(result.segmentsExpired, 1);
        assert.equal((await ctx.log.get('minute', 1)).kind, 'removed');
        assert.equal((await ctx.log.get('tenDays', 1)).kind, 'record');
        assert.deepEqual(steps, [{ aheadMs: 30 * DAY, wallMs: T0 + 2 * MINUTE + 30 * DAY, steadyMs: T0 + 2 * MINUTE }]);
        // Judged by the wall clock as before, the ten-day record would have gone too.
        assert.ok(time.wall() > T0 + 10 * DAY);
      } finally {
        await ctx.dispose();
      }
    });

    it('should keep judging by monotonic time afterwards, reporting the step once', () => {
      const time = clocks();
      const steps: ClockStep[] = [];
      const clock = new SteadyClock({ wall: time.wall, monotonic: time.monotonic, onStep: (s) => steps.push(s) });
      time.step(30 * DAY);
      assert.equal(clock.now(), T0);
      time.advance(11 * DAY);
      assert.equal(clock.now(), T0 + 11 * DAY);
      assert.equal(steps.length, 1);
    });
  });

  describe('when the wall clock steps backwards or drifts within the tolerance', () => {
    it('should follow the wall clock (a step back only delays expiry)', () => {
      const time = clocks();
      const clock = new SteadyClock({ wall: time.wall, monotonic: time.monotonic, toleranceMs: MINUTE });
      time.step(-DAY);
      assert.equal(clock.now(), T0 - DAY);
      time.advance(MINUTE);
      assert.equal(clock.now(), T0 - DAY + MINUTE);
      // Drift under the tolerance per reading is followed, so it never adds up to a step.
      for (let i = 0; i < 100; i++) {
        time.advance(MINUTE);
        time.step(1000);
        assert.equal(clock.now(), time.wall());
      }
    });
  });
});
