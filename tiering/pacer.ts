import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EventLoopUtilization } from 'node:perf_hooks';

/** Event-loop utilization above which background copying pauses between batches. */
export const DEFAULT_BUSY_UTILIZATION = 0.8;
/** How long a busy check pauses, in ms. */
export const DEFAULT_PAUSE_MS = 250;
/**
 * Shortest window utilization is judged over, in ms. 0: since the previous batch, which includes the wait for the
 * cold store's acknowledgements, so an idle process reads as idle and a process serving publishers as busy (measured:
 * judging over 100 ms windows instead let copies take twice as much publish throughput on a 2-CPU machine).
 */
export const DEFAULT_WINDOW_MS = 0;
/** Replication lag (sealed, unreplicated segments) beyond which copying no longer yields to publishers. */
export const DEFAULT_MAX_YIELDING_LAG = 128;

/**
 * Keeps background work from taking the event loop from publishers: before each batch it looks at the event loop's
 * utilization since the previous batch and, when the process is busy, pauses once. Replication falls behind under
 * a publish peak (the lag gauge shows it) and catches up when the peak passes; publishing keeps its throughput.
 * Yielding stops while `behind()` says the lag is too large, so a broker busy for good still replicates at full speed
 * (local retention can drop only replicated segments: an unbounded lag would be unbounded disk).
 */
export class Pacer {
  private last: EventLoopUtilization = performance.eventLoopUtilization();
  private busy = false;

  constructor(
    private readonly options: {
      /** True while the work is too far behind to yield. @defaultValue never */
      readonly behind?: () => boolean;
      /** Event-loop utilization (0..1) above which a batch waits. @defaultValue 0.8 */
      readonly busyUtilization?: number;
      /** The wait, in ms. @defaultValue 250 */
      readonly pauseMs?: number;
      /** Utilization is measured over windows of at least this many ms. @defaultValue 0 (since the previous batch) */
      readonly windowMs?: number;
    } = {},
  ) {}

  async pace(): Promise<void> {
    const now = performance.eventLoopUtilization();
    const delta = performance.eventLoopUtilization(now, this.last);
    if (delta.idle + delta.active >= (this.options.windowMs ?? DEFAULT_WINDOW_MS)) {
      this.last = now;
      this.busy = delta.utilization > (this.options.busyUtilization ?? DEFAULT_BUSY_UTILIZATION);
    }
    if (!this.busy || this.options.behind?.() === true) return;
    await sleep(this.options.pauseMs ?? DEFAULT_PAUSE_MS);
  }

  /** The batches of `source`, paced. */
  async *paced<T>(source: AsyncIterable<T>): AsyncIterable<T> {
    for await (const item of source) {
      await this.pace();
      yield item;
    }
  }
}
