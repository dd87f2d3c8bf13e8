// A process's resident memory as the kernel counts it (/proc/<pid>/status), for tests that bound the broker's RSS
// under a load that used to run it out of memory.
import { readFile } from 'node:fs/promises';

export interface Rss {
  /** VmRSS: resident now, in bytes. */
  readonly rss: number;
  /** VmHWM: the peak resident size since the process started, in bytes. */
  readonly hwm: number;
}

export async function readRss(pid: number): Promise<Rss> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
    if (match?.[1] === undefined) throw new Error(`/proc/${pid}/status has no ${field}`);
    return Number(match[1]) * 1024;
  };
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
}

export const MiB = 1024 * 1024;

/** "312.4 MiB" */
export function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}
