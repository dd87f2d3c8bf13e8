// A full disk (a real tmpfs filled to the last byte) that is then freed. Promised: publishes fail UNAVAILABLE while
// it is full and health says NOT_SERVING; once space is free the broker serves again without a restart, with every
// acked record and the id sequence intact.
import { publish, startBrokerProcess, type BrokerProcess } from '../../broker-process.js';
import { mountSmallDisk } from '../../full-disk.js';
import {
  type Acked,
  brokenByCheck,
  publishTallied,
  checkAcked,
  describeAnswers,
  probeReuse,
  publishKnown,
  seconds,
} from '../acked.js';
import type { FaultRow } from '../fault-row.js';
import { healthStatus } from '../health.js';

const SUBJECT = 'full';
const RECOVERY_WAIT_MS = 30_000;

/** Publishes for `ms` while the disk is full; counts answers by reason and adds any ack to `acked`. */
async function publishWhileFull(broker: BrokerProcess, acked: Acked, ms: number): Promise<Map<string, number>> {
  const answers = new Map<string, number>();
  const client = broker.client();
  const deadline = Date.now() + ms;
  for (let n = 0; Date.now() < deadline; n++) {
    const body = Buffer.from(`while full ${n}`);
    await publishTallied(client, SUBJECT, body, acked, answers);
    await new Promise((r) => setTimeout(r, 20));
  }
  return answers;
}

/** Polls Publish until one is acked; resolves with the ms it took, or undefined after RECOVERY_WAIT_MS. */
async function untilPublishWorks(broker: BrokerProcess, acked: Acked): Promise<number | undefined> {
  const client = broker.client();
  const start = Date.now();
  while (Date.now() - start < RECOVERY_WAIT_MS) {
    try {
      const body = Buffer.from('after free');
      acked.set(await publish(client, SUBJECT, body), body);
      return Date.now() - start;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return undefined;
}

export async function fullDisk(): Promise<FaultRow> {
  const disk = await mountSmallDisk(20);
  // The free-space floor (BROKER_MIN_FREE_BYTES, 64 MiB by default) would refuse every publish on a 20 MiB disk:
  // off here, so that the write itself fails with ENOSPC (issue 10). disk-limits covers the floor.
  let broker = await startBrokerProcess({ BROKER_MIN_FREE_BYTES: '0' }, disk.dataDir);
  try {
    const acked = await publishKnown([broker.client(), broker.client()], SUBJECT, 500);
    await disk.fill();
    const whileFull = await publishWhileFull(broker, acked, 2000);
    const health = await healthStatus(broker.address);
    await disk.free();
    const recoveredMs = await untilPublishWorks(broker, acked);
    const broken: string[] = [];
    if (!whileFull.has('UNAVAILABLE')) broken.push('no publish answered UNAVAILABLE while full');
    if (health !== 'NOT_SERVING') broken.push(`health ${health} while full`);
    let recovery = `${seconds(recoveredMs ?? 0)} after space was freed (no restart)`;
    if (recoveredMs === undefined) {
      broken.push(`not serving ${seconds(RECOVERY_WAIT_MS)} after space was freed`);
      recovery = 'only by a restart';
      broker = await broker.restart();
    }
    const client = broker.client();
    const check = await checkAcked(client, SUBJECT, acked);
    const idsReused = await probeReuse(client, SUBJECT, acked);
    broken.push(...brokenByCheck(check, 'none lost'));
    if (idsReused > 0) broken.push(`${idsReused} ids reused`);
    return {
      fault: 'full disk (tmpfs), then freed',
      clientSaw: `while full: Publish ${describeAnswers(whileFull)}, health ${health}; after: ${describeAnswers(check.answers)}`,
      acked: check.checked,
      lost: check.lost,
      idsReused,
      recovery,
      promise: 'none lost',
      broken,
    };
  } finally {
    await broker.dispose();
    await disk.dispose();
  }
}
