/** The longest time without an ack in [from, to], from the acks' times (in any order; those outside are ignored). */
export function longestGap(times: readonly number[], from: number, to: number): number {
  let last = from;
  let gap = 0;
  for (const t of [...times].sort((a, b) => a - b)) {
    if (t < from || t > to) continue;
    gap = Math.max(gap, t - last);
    last = t;
  }
  return Math.max(gap, to - last);
}
