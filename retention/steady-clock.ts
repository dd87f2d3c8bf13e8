import { performance } from 'node:perf_hooks';

/** How far the wall clock may run ahead of the monotonic clock between two readings before it counts as a step. */
export const DEFAULT_CLOCK_STEP_TOLERANCE_MS = 60_000;

/** A forward step of the wall clock that the steady clock did not follow. */
export interface ClockStep {
  /** How far the wall clock is ahead of the time compaction judges by, in ms. */
  readonly aheadMs: number;
  readonly wallMs: number;
  readonly steadyMs: number;
}

export interface SteadyClockOptions {
  /** The wall clock, ms since the epoch. @defaultValue Date.now */
  readonly wall?: () => number;
  /** A monotonic clock in ms from any origin (never steps). @defaultValue performance.now */
  readonly monotonic?: () => number;
  /** @defaultValue DEFAULT_CLOCK_STEP_TOLERANCE_MS (1 minute) */
  readonly toleranceMs?: number;
  /** Told of a forward step once (and again only when the step grows by more than the tolerance). */
  readonly onStep?: (step: ClockStep) => void;
}

/**
 * The time compaction judges expiry by: the wall clock, except that it never jumps forward. Deleting is the one thing
 * a wrong clock makes irreversible, and a wall clock stepped forward (a bad NTP server, an operator, a VM restored)
 * would make compaction delete records that have not expired. So the offset between the wall clock and the monotonic
 * clock is kept from reading to reading; when the wall clock runs ahead of where the monotonic clock puts it by more
 * than the tolerance, the steady time (the smaller one) is used and the step is reported. Slow drift (NTP slewing,
 * well under the tolerance per compaction interval) and steps backwards are followed: the latter only delay expiry.
 * A step that stays is honoured by the next broker start, which takes the wall clock as it finds it.
 */
export class SteadyClock {
  private readonly wall: () => number;
  private readonly monotonic: () => number;
  private readonly toleranceMs: number;
  private readonly onStep: ((step: ClockStep) => void) | undefined;
  private offset: number;
  private reportedAheadMs = 0;

  constructor(options: SteadyClockOptions = {}) {
    this.wall = options.wall ?? Date.now;
    this.monotonic = options.monotonic ?? (() => performance.now());
    this.toleranceMs = options.toleranceMs ?? DEFAULT_CLOCK_STEP_TOLERANCE_MS;
    this.onStep = options.onStep;
    this.offset = this.wall() - this.monotonic();
  }

  /** The wall time, or the steady time when the wall clock has stepped forward past the tolerance. */
  now(): number {
    const wallMs = this.wall();
    const monotonicMs = this.monotonic();
    const steadyMs = monotonicMs + this.offset;
    const aheadMs = wallMs - steadyMs;
    if (aheadMs > this.toleranceMs) {
      if (Math.abs(aheadMs - this.reportedAheadMs) > this.toleranceMs) {
        this.reportedAheadMs = aheadMs;
        this.onStep?.({ aheadMs, wallMs, steadyMs });
      }
      return steadyMs;
    }
    this.offset = wallMs - monotonicMs;
    this.reportedAheadMs = 0;
    return wallMs;
  }
}
