import { performance } from 'node:perf_hooks';

/** Why a delivery stopped: batch written, stream full ('drain'), subscriber budget full ('budget'), or quantum used. */
export type PumpStop = 'done' | 'drain' | 'budget' | 'more';

/** A subscription with records in hand: writes up to `max` of them synchronously and says why it stopped. */
export interface Pumpable {
  pump(max: number): PumpStop;
}

interface Ready {
  readonly stream: Pumpable;
  readonly resolve: (stop: Exclude<PumpStop, 'more'>) => void;
  readonly reject: (err: unknown) => void;
}

/**
 * Deliveries and ingest share one event loop. Left to themselves, the subscribers woken by one group commit write
 * everything they can in the microtasks that follow it, and at 1,000 subscribers that can be the whole loop turn: the
 * publishers' reads and the next commit's callback wait behind it. Here deliveries run only in slices (setImmediate, the loop's check phase, after its I/O), round-robin
 * over the ready subscriptions, `quantum` records each, until the slice's time is spent; what is left waits for the
 * next turn. So each turn gives ingest its I/O first and delivery at most `sliceMs`, and a subscriber the broker cannot
 * keep up with falls behind (its cursor then reads the log) instead of holding publishers back.
 */
export class DeliveryScheduler {
  /** One event loop per process, so one scheduler: every broker service in it shares the loop's time. */
  static readonly shared = new DeliveryScheduler();

  private ready: Ready[] = [];
  private scheduled = false;

  constructor(
    readonly sliceMs = 4,
    readonly quantum = 32,
  ) {}

  /** Pumps `stream` in the coming slices until it stops for a reason other than its quantum; resolves with it. */
  run(stream: Pumpable): Promise<Exclude<PumpStop, 'more'>> {
    return new Promise((resolve, reject) => {
      this.ready.push({ stream, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.slice);
      }
    });
  }

  /** Subscriptions waiting for a slice (a gauge of how far delivery is behind). */
  get waiting(): number {
    return this.ready.length;
  }

  private readonly slice = (): void => {
    this.scheduled = false;
    const deadline = performance.now() + this.sliceMs;
    const queue = this.ready;
    this.ready = [];
    let i = 0;
    // At least one pump per slice, so a slice that starts late (a long I/O phase) still moves.
    do {
      const entry = queue[i++];
      if (entry === undefined) break;
      let stop: PumpStop;
      try {
        stop = entry.stream.pump(this.quantum);
      } catch (err) {
        entry.reject(err);
        continue;
      }
      if (stop === 'more') queue.push(entry);
      else entry.resolve(stop);
    } while (i < queue.length && performance.now() < deadline);
    // Those not reached keep their place ahead of the subscriptions that became ready during this slice.
    if (i < queue.length) this.ready = queue.slice(i).concat(this.ready);
    if (this.ready.length > 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(this.slice);
    }
  };
}
