// The figures of the cluster benchmark (bench -- cluster-acks): how long a partition answered no publish around a
// hand-over, the errors a client saw, repetitions summarised as p50 / max, and the price of replication (R3 / R1,
// replicated / local) compared between the broker and its peer.
import { quantileOfSorted } from './stats.js';
import { ratioVerdict, type Verdict } from './verdict.js';

/**
 * The longest stretch of [from, to] with no successful ack: the largest difference between consecutive ack times,
 * counting `from` and `to` as edges (a window with no ack at all is one gap of its whole length). `acks` need not
 * be sorted; acks outside the window are ignored. 0 for an empty or inverted window.
 */
export function longestGap(acks: readonly number[], from: number, to: number): number {
  if (!(to > from)) return 0;
  const inside = acks.filter((t) => t > from && t < to).sort((a, b) => a - b);
  let longest = 0;
  let previous = from;
  for (const t of [...inside, to]) {
    longest = Math.max(longest, t - previous);
    previous = t;
  }
  return longest;
}

/** How long after `at` the first ack came (undefined when none did). */
export function firstAckAfter(acks: readonly number[], at: number): number | undefined {
  let first: number | undefined;
  for (const t of acks) if (t >= at && (first === undefined || t < first)) first = t;
  return first === undefined ? undefined : first - at;
}

/** Occurrences of each key, as "UNAVAILABLE 12, NOT_OWNER 3" wants them: most frequent first, ties by name. */
export function countBy(keys: readonly string[]): Array<[string, number]> {
  const counts = new Map<string, number>();
  for (const k of keys) counts.set(k, (counts.get(k) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

/** "UNAVAILABLE 12, NOT_OWNER 3", or "none". */
export function formatCounts(counts: ReadonlyArray<readonly [string, number]>): string {
  return counts.length === 0 ? 'none' : counts.map(([k, n]) => `${k} ${n.toLocaleString('en')}`).join(', ');
}

/** The median (the lower middle of an even count, as quantileOfSorted reads it), min and max of repetitions. */
export function repetitions(values: readonly number[]): { p50: number; min: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: quantileOfSorted(sorted, 0.5), min: sorted[0] ?? 0, max: sorted[sorted.length - 1] ?? 0 };
}

/** How far two runs of one configuration differ, as a share of their mean (0.1 = 10 %); 0 when both are 0. */
export function spread(a: number, b: number): number {
  const mean = (a + b) / 2;
  return mean === 0 ? 0 : Math.abs(a - b) / mean;
}

/** What replication costs one system at one load: the replicated rate as a share of the unreplicated one, and latency as a multiple. */
export interface ReplicationPrice {
  readonly rateShare: number;
  readonly p50Times: number;
  readonly p99Times: number;
}

export function replicationPrice(
  single: { rate: number; p50Ms: number; p99Ms: number },
  replicated: { rate: number; p50Ms: number; p99Ms: number },
): ReplicationPrice {
  const over = (a: number, b: number): number => (b > 0 ? a / b : Number.NaN);
  return {
    rateShare: over(replicated.rate, single.rate),
    p50Times: over(replicated.p50Ms, single.p50Ms),
    p99Times: over(replicated.p99Ms, single.p99Ms),
  };
}

/**
 * Met when the broker keeps at least `atLeast` of the share of its throughput that the peer keeps when both
 * replicate (1: replication costs the broker no more than it costs the peer).
 */
export function priceVerdict(ours: ReplicationPrice, peer: ReplicationPrice, atLeast = 1): Verdict {
  return ratioVerdict(ours.rateShare, peer.rateShare, atLeast);
}

/**
 * The longest a killed owner's partition should answer nothing, by the lease rules (cluster/README.md): its lease
 * ends at most a lease after the kill (renewed just before it), another member may claim it once the clock drift
 * bound has passed too, and does at its next round (every lease / 3). The claim and recovery come on top.
 */
export function killBoundMs(leaseMs: number, maxClockDriftMs: number): number {
  return leaseMs + maxClockDriftMs + leaseMs / 3;
}
