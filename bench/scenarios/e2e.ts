// npm run bench -- e2e: publish-to-delivery latency timed by the receiver (timestamp in the body) at --rate, or at
// half the rate a closed-loop probe reaches when --rate is not given. Targets (issue 14): p99 < 5 ms with
// --fsync never; with --fsync batch, p99 <= the disk's fdatasync p99 + 2 ms, the disk measured in the same run by a
// probe that writes and syncs a commit-sized record beside the broker's data at the publish rate (at most 1,000/s:
// at a low rate each message is its own group commit). --fsync both runs never, then batch, each on a fresh broker.
// Beside each run an idle process times a 1 ms timer (sched-probe.ts): how late this shared machine wakes a thread;
// the broker's own event-loop delay and GC pauses over the run come from its /metrics (broker-pauses.ts).
import { watchBrokerPauses } from '../support/broker-pauses.js';
import { startFsyncProbe, type FsyncFigures } from '../support/fsync-probe.js';
import { loadgen, loadgenRow } from '../support/loadgen.js';
import { startSchedProbe, type SchedFigures } from '../support/sched-probe.js';
import type { Row } from '../support/report.js';
import type { ScenarioResult } from '../support/result.js';
import { ceilingVerdict, limitVerdict } from '../support/verdict.js';
import { BrokerBench, type Target } from './broker-bench.js';
import { parseLoadSettings } from './load-settings.js';
import { fanOut } from './subscribe.js';

const NEVER_P99_MS = 5;
const FSYNC_MARGIN_MS = 2;
/** A one-record commit's WAL record besides the body: the record's key and header, the head and segment puts. */
const COMMIT_OVERHEAD_BYTES = 128;
const PROBE_MAX_RATE = 1000;

async function probe(b: BrokerBench, t: Target): Promise<Row> {
  if (b.s.client === 'go') {
    const r = await loadgen({
      mode: 'stream',
      host: t.host,
      port: t.port,
      subject: 'bench.probe',
      rate: 0,
      inflight: 256,
      connections: 1,
      seconds: 5,
      warmup: 1,
      payload: b.s.payload,
    });
    return loadgenRow('e2e (loadgen): max-rate probe (PublishStream, 1 conn x 256, no subscriber)', r, r);
  }
  return b.run(
    'e2e: max-rate probe (PublishStream, 1 conn x 256, no subscriber)',
    b.tasks('stream', t, 'bench.probe', { connections: 1, seconds: 3, inflight: 256 }),
    3,
  );
}

/** The verdict of the delivery p99 against the target of its fsync mode. */
function verdictNote(p99Ms: number, fsync: string, disk: FsyncFigures | undefined): string {
  const p99 = `p99 ${p99Ms.toFixed(2)} ms`;
  if (disk === undefined) return `${p99} (target < ${NEVER_P99_MS} ms: ${limitVerdict(p99Ms, NEVER_P99_MS)})`;
  const bound = disk.p99Ms + FSYNC_MARGIN_MS;
  return `${p99} (fsync ${fsync}; target <= fsync p99 ${disk.p99Ms.toFixed(2)} + ${FSYNC_MARGIN_MS} = ${bound.toFixed(2)} ms: ${ceilingVerdict(p99Ms, bound)})`;
}

/** A probe's figures as a row of the table. */
function probeRow(name: string, f: FsyncFigures | SchedFigures, bytes: number, seconds: number, ratio: string): Row {
  const perSec = f.count / Math.max(1, seconds);
  return { ...f, name, ops: f.count, opsPerSec: perSec, mbPerSec: (perSec * bytes) / 1e6, errors: 0, ratio };
}

async function e2e(b: BrokerBench, t: Target, fsync: string): Promise<Row[]> {
  let rate = b.s.rate;
  const rows: Row[] = [];
  if (rate <= 0) {
    const p = await probe(b, t);
    rows.push({ ...p, ratio: 'probe' });
    rate = Math.max(100, Math.round(p.opsPerSec / 2 / 100) * 100);
  }
  const bytes = b.s.payload + COMMIT_OVERHEAD_BYTES;
  const started = Date.now();
  const machine = await startSchedProbe();
  const pauses = t.metricsPort === undefined ? undefined : await watchBrokerPauses(t.metricsPort);
  const probing = fsync === 'never' ? undefined : startFsyncProbe({ bytes, rate: Math.min(rate, PROBE_MAX_RATE) });
  let measured: Row[];
  let disk: FsyncFigures | undefined;
  let sched: SchedFigures;
  try {
    measured = await fanOut(b, t, 1, rate, `e2e at ${rate.toLocaleString('en')}/s, fsync ${fsync}`);
  } finally {
    disk = await probing?.stop();
    sched = await machine.stop();
  }
  const broker = (await pauses?.stop()) ?? 'broker pauses not read (--target)';
  const seconds = (Date.now() - started) / 1000;
  const [pub, del] = measured;
  if (pub === undefined || del === undefined) throw new Error('fanOut returned no publisher and delivery rows');
  rows.push(pub, { ...del, ratio: `${verdictNote(del.p99Ms, fsync, disk)}; ${broker}; ${del.ratio ?? ''}` });
  const diskName = `disk: write + fdatasync of ${bytes} B beside the broker's data, during the run`;
  if (disk !== undefined) rows.push(probeRow(diskName, disk, bytes, seconds, 'the fsync reference of the verdict'));
  const idle = 'machine: lateness of a 1 ms timer in an idle process, during the run (the 1 ms included)';
  rows.push(probeRow(idle, sched, 0, seconds, 'the floor of any tail on this machine in this run'));
  return rows;
}

export async function run(args: string[]): Promise<ScenarioResult> {
  const b = new BrokerBench(parseLoadSettings(args));
  const modes = b.s.fsync === 'both' ? ['never', 'batch'] : [b.s.fsync];
  const rows: Row[] = [];
  for (const fsync of modes)
    rows.push(...(await b.onBroker((t) => e2e(b, t, fsync), fsync, { BROKER_METRICS_PORT: '0' })));
  return b.result('e2e', rows);
}
