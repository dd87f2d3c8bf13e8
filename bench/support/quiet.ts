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
 * `maxWaitMs` (BENCH_QUIET_WAIT_MS, default 20 s); returns the last reading.
 */
export async function waitForQuiet(
  maxBusy = Number(process.env.BENCH_QUIET_BUSY ?? 25),
  maxWaitMs = Number(process.env.BENCH_QUIET_WAIT_MS ?? 20_000),
): Promise<number> {
  const deadline = Date.now() + maxWaitMs;
  let busy = await busyPercent();
  while (busy > maxBusy && Date.now() < deadline) busy = await busyPercent();
  return busy;
}

// Foreign CPU: how much of the machine other people's processes used during a measurement. Busy time from
// /proc/stat minus this process (all its threads, plus children it has reaped, such as ghz) and the servers it runs.
const ownPids = new Set<number>();

/** Counts a server this run started as ours while it runs. */
export function trackPid(pid: number, tracked: boolean): void {
  if (tracked) ownPids.add(pid);
  else ownPids.delete(pid);
}

function procTicks(pid: number | 'self', withChildren: boolean): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state is field 3; utime, stime, cutime, cstime are 14-17.
    const f = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    return (f[11] ?? 0) + (f[12] ?? 0) + (withChildren ? (f[13] ?? 0) + (f[14] ?? 0) : 0);
  } catch {
    return 0;
  }
}

/**
 * CPU time (user + system, every thread) the processes have used since they started, in µs. The kernel counts in
 * clock ticks (USER_HZ, 100 a second on Linux): difference two readings over seconds, not milliseconds.
 */
export function cpuMicros(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + procTicks(pid, false), 0) * 10_000;
}

export interface CpuMark {
  busy: number;
  total: number;
  own: number;
}

export function cpuMark(): CpuMark {
  const { idle, total } = cpuTimes();
  let own = procTicks('self', true);
  for (const pid of ownPids) own += procTicks(pid, false);
  return { busy: total - idle, total, own };
}

/** Share of all CPUs (0..100) that processes not started by this run used since `from`. */
export function foreignPercent(from: CpuMark): number {
  const to = cpuMark();
  const total = to.total - from.total;
  return total <= 0 ? 0 : Math.max(0, (100 * (to.busy - from.busy - (to.own - from.own))) / total);
}
