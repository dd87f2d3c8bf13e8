// A process's CPU time from /proc over a window of a run (issue 14 judges CPU per message by it: on a shared
// machine a rate drifts with the neighbours' load, CPU-µs per message much less). Linux only.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const TICK_US = 10_000; // USER_HZ = 100

/** utime + stime of a /proc stat file, in clock ticks. */
function ticks(path: string): number {
  const fields = readFileSync(path, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return Number(fields[11]) + Number(fields[12]);
}

export interface CpuUse {
  /** The main thread's CPU (/proc/<pid>/task/<pid>): a Node process's event loop. */
  readonly mainUs: number;
  /** The whole process's CPU (every thread: V8's, libuv's pool, LevelDB's). */
  readonly processUs: number;
  /** The window's length. */
  readonly seconds: number;
}

/**
 * CPU used by `pid` from `fromMs` to `toMs` after the call (so that the window can skip a load's warm-up and its
 * ending): run it beside the load with Promise.all.
 */
export async function cpuDuring(pid: number, fromMs: number, toMs: number): Promise<CpuUse> {
  await sleep(fromMs);
  const main = `/proc/${pid}/task/${pid}/stat`;
  const all = `/proc/${pid}/stat`;
  const m0 = ticks(main);
  const a0 = ticks(all);
  const t0 = performance.now();
  await sleep(Math.max(0, toMs - fromMs));
  const m1 = ticks(main);
  const a1 = ticks(all);
  return {
    mainUs: (m1 - m0) * TICK_US,
    processUs: (a1 - a0) * TICK_US,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** CPU-µs per operation at `opsPerSec` over the window (main thread and whole process). */
export function perOp(cpu: CpuUse, opsPerSec: number): { mainUs: number; processUs: number } {
  const ops = opsPerSec * cpu.seconds;
  return { mainUs: ops > 0 ? cpu.mainUs / ops : NaN, processUs: ops > 0 ? cpu.processUs / ops : NaN };
}
