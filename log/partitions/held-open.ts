import { UnavailableError } from '../../core/index.js';

/** Backoff of the reopening of a partition whose previous owner still holds it open, ms. */
const REOPEN_DELAY_MS = { first: 250, max: 2_000 } as const;

/**
 * Whether an open failed because another process holds the partition's LevelDB lock (classic-level's
 * LEVEL_LOCKED, somewhere in the cause chain): on a cluster member of several workers, a sibling that was frozen
 * (SIGSTOP, a long GC, cut off from the CQL server) past its lease still has the partition open on this disk. The
 * lock is the fence that keeps two processes from appending to one partition; it lifts once that worker finds its
 * lease gone and lets the partition go.
 */
export function isHeldOpenElsewhere(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if ((e as Error & { code?: unknown }).code === 'LEVEL_LOCKED') return true;
  }
  return false;
}

/**
 * A rejection handler for the open of a partition: when it was acquired (a cluster member's) and another process
 * holds it open, what a call for it gets meanwhile is UNAVAILABLE, retriable, saying why; else the error as it is.
 */
export function heldOpenError(partition: number, acquired: boolean): (err: unknown) => never {
  return (err) => {
    if (!acquired || !isHeldOpenElsewhere(err)) throw err;
    throw new UnavailableError(
      `partition ${partition} is still open in another process on this disk (its previous owner, whose lease lapsed, has not let it go yet); retry`,
      { cause: err, metadata: { partition: String(partition) } },
    );
  };
}

/**
 * A rejection handler for the open of an acquired partition: when it failed UNAVAILABLE (heldOpenError), opens
 * again in the background, with backoff, while `wanted()` holds (the partition is still this process's and the log
 * is open), so the partition serves as soon as the lock lifts whether or not a call asks for it meanwhile (every
 * call for it tries the open too). The error is rethrown for the caller to report.
 */
export function reopenWhileHeld(open: () => Promise<unknown>, wanted: () => boolean): (err: unknown) => never {
  return (err) => {
    if (err instanceof UnavailableError) void reopenLater(open, wanted);
    throw err;
  };
}

async function reopenLater(open: () => Promise<unknown>, wanted: () => boolean): Promise<void> {
  for (let delay: number = REOPEN_DELAY_MS.first; ; delay = Math.min(delay * 2, REOPEN_DELAY_MS.max)) {
    await new Promise((resolve) => setTimeout(resolve, delay).unref());
    if (!wanted()) return;
    try {
      await open();
      return;
    } catch (err) {
      if (!(err instanceof UnavailableError)) return;
    }
  }
}
