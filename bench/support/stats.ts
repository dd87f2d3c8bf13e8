// Latency statistics shared by every scenario: HDR histograms of microseconds (load workers, ghz's per-request
// details) read out as millisecond percentiles, and the exact percentile of a small sorted sample (the log bench).
import * as hdr from 'hdr-histogram-js';

/** Latency percentiles of one measurement, in milliseconds (0 when nothing was recorded). */
export interface Percentiles {
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
}

/**
 * A histogram of latencies in microseconds: 1 µs to 10 minutes at 3 significant digits (a value is read back within
 * 0.1% of what was recorded). The JavaScript implementation, not WebAssembly: worker threads each build their own,
 * and histograms travel between threads as compressed base64.
 */
export function latencyHistogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 600_000_000,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });
}

/** Serialises a histogram to post it from a worker thread. */
export function encodeHistogram(h: hdr.Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

/** Adds histograms posted by workers (encodeHistogram) into one. */
export function mergeHistograms(encoded: readonly string[]): hdr.Histogram {
  const total = latencyHistogram();
  for (const e of encoded) total.add(hdr.decodeFromCompressedBase64(e, 32, false));
  return total;
}

/** p50, p90, p99, p99.9 and max of a histogram of microseconds, in milliseconds. */
export function percentilesMs(h: hdr.Histogram): Percentiles {
  if (h.totalCount === 0) return { p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 };
  const ms = (p: number): number => h.getValueAtPercentile(p) / 1000;
  return { p50Ms: ms(50), p90Ms: ms(90), p99Ms: ms(99), p999Ms: ms(99.9), maxMs: h.maxValue / 1000 };
}

/**
 * The value at quantile `q` (0..1) of an ascending sample: the element at index floor(n·q), the last one for q = 1;
 * 0 for an empty sample. Exact, for samples small enough to keep whole (the log bench's acknowledgement times).
 */
export function quantileOfSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? 0;
}

/** The mean of `key` over `items`; 0 when there are none (a cell with no run shows 0, not NaN). */
export function meanBy<T>(items: readonly T[], key: (item: T) => number): number {
  return items.length === 0 ? 0 : items.reduce((n, item) => n + key(item), 0) / items.length;
}

/** The median element by `key` (the lower middle of an even count), as the log bench keeps each cell's median round. */
export function medianBy<T>(items: readonly T[], key: (item: T) => number): T {
  const sorted = [...items].sort((a, b) => key(a) - key(b));
  const middle = sorted[Math.floor((sorted.length - 1) / 2)];
  if (middle === undefined) throw new RangeError('medianBy needs at least one item');
  return middle;
}
