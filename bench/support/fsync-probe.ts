// The disk's fdatasync distribution measured beside a run (issue 14: with BROKER_FSYNC=batch the disk bounds the
// publish-to-delivery tail, so that target is judged against the fsync p99 of the same run, on the same filesystem,
// under the same foreign load). A worker thread appends a commit-sized write to a file and fdatasyncs it at a fixed
// cadence (open model, as the broker's group commits at a low rate: one per message), timing each write + sync.
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { latencyHistogram, percentilesMs, type Percentiles } from './stats.js';

export interface FsyncProbeOptions {
  /** A directory on the filesystem to measure (default: the OS temp dir, where bench brokers keep their data). */
  readonly dir?: string;
  /** Bytes per write: one commit's WAL record. */
  readonly bytes: number;
  /** Writes + syncs per second. */
  readonly rate: number;
}

export interface FsyncFigures extends Percentiles {
  readonly count: number;
}

export interface FsyncProbe {
  /** Stops the probe, removes its file and reads out the durations of write + fdatasync. */
  stop(): Promise<FsyncFigures>;
}

// CommonJS, evaluated in the worker. Sleeps with Atomics.wait on the shared stop flag, so stop() wakes it at once.
const PROBE = `
const { workerData, parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const { file, bytes, rate, flag } = workerData;
const stop = new Int32Array(flag);
const chunk = Buffer.alloc(bytes, 7);
const fd = fs.openSync(file, 'w');
const us = [];
const interval = 1000 / rate;
let next = performance.now();
let size = 0;
while (Atomics.load(stop, 0) === 0) {
  const wait = next - performance.now();
  if (wait > 0) { Atomics.wait(stop, 0, 0, wait); continue; }
  next += interval;
  // A WAL-like file: appended to, started afresh every 4 MiB.
  if (size > 4 << 20) { fs.ftruncateSync(fd, 0); size = 0; }
  const t = performance.now();
  fs.writeSync(fd, chunk, 0, bytes, size);
  fs.fdatasyncSync(fd);
  us.push((performance.now() - t) * 1000);
  size += bytes;
}
fs.closeSync(fd);
parentPort.postMessage(us);
`;

export function startFsyncProbe(o: FsyncProbeOptions): FsyncProbe {
  const file = join(o.dir ?? tmpdir(), `bench-fsync-probe-${process.pid}-${Date.now()}`);
  const flag = new SharedArrayBuffer(4);
  const worker = new Worker(PROBE, {
    eval: true,
    workerData: { file, bytes: o.bytes, rate: Math.max(1, o.rate), flag },
  });
  const durations = new Promise<number[]>((resolve, reject) => {
    worker.once('message', (m: number[]) => resolve(m));
    worker.once('error', reject);
  });
  return {
    async stop() {
      const stopFlag = new Int32Array(flag);
      Atomics.store(stopFlag, 0, 1);
      Atomics.notify(stopFlag, 0);
      try {
        const us = await durations;
        const h = latencyHistogram();
        for (const v of us) h.recordValue(Math.max(1, Math.round(v)));
        return { ...percentilesMs(h), count: us.length };
      } finally {
        await worker.terminate();
        await rm(file, { force: true });
      }
    },
  };
}
