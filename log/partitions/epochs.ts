import type { LogOptions } from '../options.js';

/** How a partition is acquired (PartitionedLog.acquire). */
export interface AcquireOptions {
  /** Released cleanly by its last owner (LogOptions.handedOver). @defaultValue false */
  readonly handedOver?: boolean;
  /** The lease epoch it is owned at (LogOptions.epoch). @defaultValue none: a broker alone, nothing fenced */
  readonly epoch?: number;
}

/**
 * The lease epoch each acquired partition is owned at (a cluster member's, PartitionedLog.acquire): the fencing
 * token its log's id reservations are written under (LogOptions.epoch). A log whose reservation a newer owner has
 * fenced off (FencedError) gives the partition up here, without settling (the new owner's reservations stand).
 */
export class PartitionEpochs {
  private readonly epochs = new Map<number, number>();

  /** `giveUp` releases a partition whose log was fenced. */
  constructor(private readonly giveUp: (partition: number) => void) {}

  /** The partition is owned at `epoch` from now (undefined: a broker alone, nothing fenced). */
  set(partition: number, epoch: number | undefined): void {
    if (epoch === undefined) this.epochs.delete(partition);
    else this.epochs.set(partition, epoch);
  }

  /**
   * The partition's log options with its epoch; once its log is fenced, the partition is given up (if it is still
   * owned at that epoch: a newer acquire's log is not given up for an older one's refusal) after `base.onFenced`.
   */
  options(partition: number, base: LogOptions): LogOptions {
    const epoch = this.epochs.get(partition);
    if (epoch === undefined) return base;
    return {
      ...base,
      epoch,
      onFenced: (err) => {
        base.onFenced?.(err);
        if (this.epochs.get(partition) === epoch) this.giveUp(partition);
      },
    };
  }
}
