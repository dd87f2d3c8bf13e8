// The delivery parts of `npm run bench -- targets` (targets.ts): the 1,000 x 1,000 msg/s overload and the
// publish-to-delivery tail at 1,000 msg/s, each against the broker and the Go peer (bench/loadgen serve-peer).
import { startFsyncProbe, type FsyncFigures } from '../support/fsync-probe.js';
import { startGoPeer } from '../support/processes.js';
import type { Row } from '../support/report.js';
import { limitTarget, ratioTarget, type TargetRow } from '../support/targets-table.js';
import { BrokerBench, onServer, rssNote } from './broker-bench.js';
import { overload, overloadRows, type OverloadFigures, type OverloadOptions } from './overload.js';
import { fanOut } from './subscribe.js';

/** What a part hands back: its target rows and the load rows they were read from. */
export interface PartResult {
  readonly targets: TargetRow[];
  readonly rows: Row[];
}

export interface PartContext {
  readonly b: BrokerBench;
  /** The command that measures this part alone, for its rows. */
  readonly command: string;
  readonly logBaseline: string;
}

/** Flat memory: the RSS ends at most 10% above its middle (a backlog held in memory keeps growing). */
const FLAT_GROWTH = 0.1;

function deliveredRow(f: OverloadFigures, command: string): TargetRow {
  const fraction = f.delivered / Math.max(1, f.expected);
  const growth = f.rss === undefined ? NaN : f.rss.secondHalfGrowthMb / Math.max(1, f.rss.endMb);
  return {
    target: `1,000 x 1,000 msg/s: every message delivered (by 8 s after the publisher stops), flat memory (RSS grows <= ${FLAT_GROWTH * 100}% over the second half)`,
    command,
    figure: `${(fraction * 100).toFixed(1)}% of ${f.expected.toLocaleString('en')} delivered${rssNote(f.rss)}`,
    peer: '–',
    ratio: '–',
    verdict: fraction >= 0.999 && growth <= FLAT_GROWTH ? 'met' : 'missed',
  };
}

export async function overloadPart({ b, command }: PartContext): Promise<PartResult> {
  const o: OverloadOptions = { subscribers: 1000, rate: 1000, seconds: b.s.seconds, warmup: b.s.warmup, payload: 100 };
  const ours = await b.onBroker((t) => overload(t, o), 'batch');
  const go = await onServer(startGoPeer, (srv) => overload({ host: '127.0.0.1', port: srv.port, pid: srv.pid }, o));
  const goPeer = (value: number | undefined, unit: string): { name: string; value: number; unit: string } => ({
    name: 'Go peer',
    value: value ?? NaN,
    unit,
  });
  const perSec = (f: OverloadFigures): number => f.loaded.opsPerSec;
  return {
    targets: [
      limitTarget(
        'per delivery <= 4 µs of broker CPU (whole process, /proc; 1,000 subscribers x 1,000 msg/s of 100 B)',
        command,
        { value: ours.cpuUsPerDelivery ?? NaN, unit: 'µs/delivery' },
        { is: '<=', value: 4 },
        goPeer(go.cpuUsPerDelivery, 'µs/delivery'),
      ),
      limitTarget(
        '1,000 subscribers x 1,000 msg/s of 100 B: >= 250k deliveries/s on 2 cores',
        command,
        { value: ours.deliveriesPerSec, unit: 'deliveries/s' },
        { is: '>=', value: 250_000 },
        goPeer(go.deliveriesPerSec, 'deliveries/s'),
      ),
      deliveredRow(ours, command),
      ratioTarget(
        'during that overload a publisher keeps >= 50% of its solo rate',
        command,
        { value: perSec(ours), unit: 'msg/s' },
        { name: 'the same publisher alone', value: ours.solo.opsPerSec, unit: 'msg/s' },
        0.5,
      ),
      limitTarget(
        'during that overload, ack p99 < 100 ms',
        command,
        { value: ours.loaded.p99Ms, unit: 'ms' },
        { is: '<', value: 100 },
        goPeer(go.loaded.p99Ms, 'ms'),
      ),
    ],
    rows: [...overloadRows(ours, o, 'broker'), ...overloadRows(go, o, 'Go peer')],
  };
}

const E2E_RATE = 1000;
/** A one-record commit's WAL record besides the body (key, header, head and segment puts), for the fsync probe. */
const COMMIT_OVERHEAD_BYTES = 128;

/** The fsync probe's figures as a row beside the broker's, so its p50 and p90 show too. */
function diskRow(disk: FsyncFigures, seconds: number): Row {
  const { count, ...percentiles } = disk;
  const name = `disk: write + fdatasync of a commit-sized record at up to ${E2E_RATE.toLocaleString('en')}/s during the fsync=batch run`;
  const opsPerSec = count / Math.max(1, seconds);
  return { name, ops: count, opsPerSec, mbPerSec: 0, errors: 0, ...percentiles, ratio: 'the fsync reference' };
}

export async function e2ePart({ b, command }: PartContext): Promise<PartResult> {
  const label = (who: string): string => `${who}: e2e at ${E2E_RATE.toLocaleString('en')}/s, 1 subscriber`;
  const never = await b.onBroker((t) => fanOut(b, t, 1, E2E_RATE, label('broker fsync=never')), 'never');
  let disk: FsyncFigures | undefined;
  let probed = 0;
  const batch = await b.onBroker(async (t) => {
    const started = Date.now();
    const probe = startFsyncProbe({ bytes: b.s.payload + COMMIT_OVERHEAD_BYTES, rate: E2E_RATE });
    try {
      return await fanOut(b, t, 1, E2E_RATE, label('broker fsync=batch'));
    } finally {
      disk = await probe.stop();
      probed = (Date.now() - started) / 1000;
    }
  }, 'batch');
  const go = await onServer(startGoPeer, (srv) =>
    fanOut(b, { host: '127.0.0.1', port: srv.port, pid: srv.pid }, 1, E2E_RATE, label('Go peer')),
  );
  const p99 = (rows: Row[]): number => rows[1]?.p99Ms ?? NaN;
  const fsyncP99 = disk?.p99Ms ?? NaN;
  return {
    targets: [
      limitTarget(
        'publish-to-delivery p99 at 1,000 msg/s < 5 ms, fsync never',
        command,
        { value: p99(never), unit: 'ms' },
        { is: '<', value: 5 },
        { name: 'Go peer (in memory)', value: p99(go), unit: 'ms' },
      ),
      limitTarget(
        `publish-to-delivery p99 at 1,000 msg/s, fsync batch <= the disk's fdatasync p99 + 2 ms (${(fsyncP99 + 2).toFixed(1)} ms in this run)`,
        command,
        { value: p99(batch), unit: 'ms' },
        { is: '<=', value: fsyncP99 + 2 },
        { name: `fdatasync p99 of ${disk?.count ?? 0} probes during the run`, value: fsyncP99, unit: 'ms' },
      ),
    ],
    rows: [...never, ...batch, ...(disk === undefined ? [] : [diskRow(disk, probed)]), ...go],
  };
}
