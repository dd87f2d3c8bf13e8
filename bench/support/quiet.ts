// The machine is shared: before each measurement, wait (bounded) until the CPUs are mostly idle, and say how busy
// they were when it started, so a noisy figure can be recognised as such.
import { readFileSync } from 'node:fs';

function cpuTimes(): { idle: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return { idle, total: f.reduce((a, b) => a + b, 0) };
}

/** Busy share of all CPUs over `ms`, 0..100. */
export async function busyPercent(ms = 1000): Promise<number> {
  const a = cpuTimes();
  await new Promise((r) => setTimeout(r, ms));
  const b = cpuTimes();
  return b.total === a.total ? 0 : 100 * (1 - (b.idle - a.idle) / (b.total - a.total));
}

/**
 * Waits until the CPUs are at most `maxBusy` % busy over a second (BENCH_QUIET_BUSY, default 25), for at most
 * `maxWaitMs` (BENCH_QUIET_WAIT_MS, default 30 s); returns the last reading.
 */
export async function waitForQuiet(maxBusy = Number(process.env.BENCH_QUIET_BUSY ?? 25), maxWaitMs = Number(process.env.BENCH_QUIET_WAIT_MS ?? 30_000)): Promise<number> {
  const deadline = Date.now() + maxWaitMs;
  let busy = await busyPercent();
  while (busy > maxBusy && Date.now() < deadline) busy = await busyPercent();
  return busy;
}
