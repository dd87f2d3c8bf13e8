// The targets the benchmarks report against (bench/RESULTS.md "Targets at a glance"): a ratio to a reference that
// must reach a floor (PublishStream >= 1.5x NATS, unary >= 60% of echo), or a value that must stay under a ceiling
// (e2e p99 < 10 ms, idle RSS < 200 MB). One place decides met or missed, so the edges are the same everywhere.

export type Verdict = 'met' | 'missed';

/**
 * Met when measured / reference reaches `atLeast` (the edge counts as met). A reference of zero or less, or a
 * non-finite figure, is a failed measurement and never meets a target.
 */
export function ratioVerdict(measured: number, reference: number, atLeast: number): Verdict {
  if (!(reference > 0) || !Number.isFinite(measured)) return 'missed';
  return measured / reference >= atLeast ? 'met' : 'missed';
}

/** Met when `value` stays strictly under `below` (the edge counts as missed); NaN is missed. */
export function limitVerdict(value: number, below: number): Verdict {
  return value < below ? 'met' : 'missed';
}

/** Met when `value` is at most `atMost` (the edge counts as met: "p99 <= the disk's fsync p99 + 2 ms"); NaN is missed. */
export function ceilingVerdict(value: number, atMost: number): Verdict {
  return value <= atMost ? 'met' : 'missed';
}

/** a / b as "1.23x", the form of every ratio column. */
export function times(a: number, b: number): string {
  return `${(a / b).toFixed(2)}x`;
}

/** a / b as a whole percentage, "96%". */
export function percentOf(a: number, b: number): string {
  return `${((a / b) * 100).toFixed(0)}%`;
}
