// SIGKILL under load with fsync=batch: every publish acknowledged before the kill must be there after a restart,
// and the id sequence continues above all of them (README, "Crash safety").
import { publish, startBrokerProcess } from '../../broker-process.js';
import { type Acked, brokenByCheck, checkAcked, describeAnswers, knownBody, probeReuse, seconds } from '../acked.js';
import type { FaultRow } from '../fault-row.js';

const SUBJECT = 'killed';

export async function sigkillUnderLoad(): Promise<FaultRow> {
  const broker = await startBrokerProcess({ BROKER_FSYNC: 'batch' });
  try {
    const acked: Acked = new Map();
    let stop = false;
    let n = 0;
    let failedCalls = 0;
    const load = Promise.all(
      Array.from({ length: 8 }, async () => {
        const client = broker.client();
        while (!stop) {
          const body = knownBody(SUBJECT, n++);
          try {
            acked.set(await publish(client, SUBJECT, body), body);
          } catch {
            failedCalls++;
            return;
          }
        }
      }),
    );
    while (acked.size < 3000) await new Promise((r) => setTimeout(r, 10));
    const killedAt = Date.now();
    broker.child.kill('SIGKILL');
    stop = true;
    await load;
    const again = await startBrokerProcess({ BROKER_FSYNC: 'batch' }, broker.dataDir);
    try {
      const client = again.client();
      const idsReused = await probeReuse(client, SUBJECT, acked);
      const recovered = Date.now() - killedAt;
      const check = await checkAcked(client, SUBJECT, acked);
      const broken = brokenByCheck(check, 'none lost');
      if (idsReused > 0) broken.push(`${idsReused} ids reused`);
      return {
        fault: 'SIGKILL under load (fsync=batch)',
        clientSaw: `${failedCalls} in-flight calls failed (never acked); after restart: ${describeAnswers(check.answers)}`,
        acked: check.checked,
        lost: check.lost,
        idsReused,
        recovery: `${seconds(recovered)} (restart)`,
        promise: 'none lost',
        broken,
      };
    } finally {
      await again.dispose();
    }
  } finally {
    await broker.dispose();
  }
}
