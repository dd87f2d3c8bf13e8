// The disk fills up under a free-space floor (issue 11). Promised: publishes are refused with RESOURCE_EXHAUSTED /
// STORAGE_FULL before the file system is full, nothing acknowledged is lost, the broker restarts on that disk, and
// once compaction (a short retention) has freed space publishes are accepted again.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { publish, startBrokerProcess, type BrokerProcess } from '../../broker-process.js';
import { mountSmallDisk } from '../../full-disk.js';
import {
  type Acked,
  brokenByCheck,
  publishTallied,
  checkAcked,
  describeAnswers,
  probeReuse,
  seconds,
} from '../acked.js';
import type { FaultRow } from '../fault-row.js';

const SUBJECT = 'fill';
const MiB = 1024 * 1024;
const ENV = {
  BROKER_MIN_FREE_BYTES: String(10 * MiB),
  BROKER_RETENTION: '15s',
  BROKER_COMPACTION_INTERVAL: '500ms',
  BROKER_SEGMENT_MAX_BYTES: String(MiB),
  BROKER_SEGMENT_MAX_AGE: '1s',
};

/** Publishes random 64 KiB bodies (LevelDB compresses), 8 at a time, until refused; counts answers by reason. */
async function fill(broker: BrokerProcess, acked: Acked): Promise<Map<string, number>> {
  const client = broker.client();
  const answers = new Map<string, number>();
  for (let i = 0; i < 2000 && answers.size < 2; i += 8) {
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        const body = randomBytes(64 * 1024);
        await publishTallied(client, SUBJECT, body, acked, answers);
      }),
    );
  }
  return answers;
}

/** Retries a 64 KiB publish until accepted (compaction freed space); the ms it took, or undefined after 30 s. */
async function untilAccepted(broker: BrokerProcess, acked: Acked): Promise<number | undefined> {
  const client = broker.client();
  const start = Date.now();
  while (Date.now() - start < 30_000) {
    const body = randomBytes(64 * 1024);
    try {
      acked.set(await publish(client, SUBJECT, body), body);
      return Date.now() - start;
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return undefined;
}

async function peakRss(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kib = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
  return kib === undefined ? undefined : Number(kib) * 1024;
}

export async function diskLimits(): Promise<FaultRow> {
  const disk = await mountSmallDisk(20);
  let broker = await startBrokerProcess(ENV, disk.dataDir);
  try {
    const acked: Acked = new Map();
    const answers = await fill(broker, acked);
    const freeAtRefusal = await disk.freeBytes();
    const rssPeakBytes = await peakRss(broker.child.pid);
    // Checked before the short retention lets compaction remove them.
    const check = await checkAcked(broker.client(), SUBJECT, acked);
    const lastAcked = Math.max(0, ...acked.keys());
    broker = await broker.restart();
    const after: Acked = new Map();
    const recoveredMs = await untilAccepted(broker, after);
    const idsReused = await probeReuse(broker.client(), SUBJECT, acked);
    // Refused publishes append nothing: the retried publish gets the very next id, none was taken by a refusal.
    const firstAfter = Math.min(...after.keys());
    const duplicatesAfterRetries = after.size === 0 ? 0 : firstAfter - (lastAcked + 1);
    const broken: string[] = [];
    if (!answers.has('STORAGE_FULL')) broken.push(`never refused with STORAGE_FULL: ${describeAnswers(answers)}`);
    if (answers.has('UNAVAILABLE')) broken.push('a publish failed UNAVAILABLE (the disk ran out)');
    if (recoveredMs === undefined) broken.push('no publish accepted within 30 s of the restart');
    broken.push(...brokenByCheck(check, 'none lost'));
    if (idsReused > 0) broken.push(`${idsReused} ids reused`);
    return {
      fault: 'disk fills up (limits)',
      clientSaw: `Publish ${describeAnswers(answers)} (RESOURCE_EXHAUSTED), ${(freeAtRefusal / MiB).toFixed(1)} MiB still free; restart on that disk serves`,
      acked: check.checked,
      lost: check.lost,
      idsReused,
      recovery: `restart, then ${seconds(recoveredMs ?? 0)} until compaction freed space`,
      promise: 'none lost',
      ...(rssPeakBytes === undefined ? {} : { rssPeakBytes }),
      duplicatesAfterRetries,
      broken,
    };
  } finally {
    await broker.dispose();
    await disk.dispose();
  }
}
