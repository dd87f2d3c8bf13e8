// How late this machine wakes a waiting process, measured beside a run: an otherwise idle Node process whose event
// loop does nothing but a 1 ms timer (perf_hooks monitorEventLoopDelay). Whatever delays it (other processes on
// the cores, the kernel) delays every thread a message passes through too, so its p99 is the floor under a tail
// measured in the same run (issue 14: the machine is shared with other work; a broker's loop delay p99 equal to
// the probe's is the machine's, not the broker's).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Percentiles } from './stats.js';

const PROBE = `
const { monitorEventLoopDelay } = require('node:perf_hooks');
const h = monitorEventLoopDelay({ resolution: 1 });
h.enable();
setInterval(() => {}, 60000);
process.on('SIGTERM', () => {
  h.disable();
  const ms = (v) => v / 1e6;
  process.stdout.write(JSON.stringify({ p50Ms: ms(h.percentile(50)), p90Ms: ms(h.percentile(90)), p99Ms: ms(h.percentile(99)), p999Ms: ms(h.percentile(99.9)), maxMs: ms(h.max), count: h.count }) + '\\n', () => process.exit(0));
});
process.stdout.write('ready\\n');
`;

export interface SchedFigures extends Percentiles {
  /** Timer wake-ups measured. */
  readonly count: number;
}

export interface SchedProbe {
  /** Stops the probe process and reads out how late its 1 ms timer fired (the timer's own 1 ms included). */
  stop(): Promise<SchedFigures>;
}

export async function startSchedProbe(): Promise<SchedProbe> {
  const child = spawn(process.execPath, ['-e', PROBE], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (s: string) => (out += s));
  while (!out.includes('ready\n')) await once(child.stdout, 'data');
  return {
    async stop() {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line === undefined) throw new Error('the scheduling probe exited without its figures');
      return JSON.parse(line) as SchedFigures;
    },
  };
}
