// Redis (the BullMQ job queues) stopped under a serving broker. Promised: publishing and reading go on, compaction
// keeps running (the in-process scheduler takes over), and SIGTERM still exits 0 within the documented 10 s.
import { randomQueueName, startRedis, stopRedis, testRedisUrl } from '../../../../test-support/services.js';
import { publish, startBrokerProcess } from '../../broker-process.js';
import { brokenByCheck, checkAcked, describeAnswers, getSubject, probeReuse, publishKnown, seconds } from '../acked.js';
import type { FaultRow } from '../fault-row.js';

const KEPT = 'kept';
const EXPIRING = 'expiring';
const COMPACTION_WAIT_MS = 20_000;

export async function redisStopped(): Promise<FaultRow> {
  const env = {
    REDIS_URL: testRedisUrl(),
    BROKER_QUEUE_PREFIX: randomQueueName('faults'),
    BROKER_COMPACTION_INTERVAL: '1s',
    BROKER_SEGMENT_MAX_RECORDS: '20',
  };
  const broker = await startBrokerProcess(env);
  let redisDown = false;
  try {
    const client = broker.client();
    const acked = await publishKnown([client], KEPT, 200);
    // 100 records in 5 sealed segments that all expire 3 s from now: compaction's work while Redis is away.
    for (let n = 0; n < 100; n++) await publish(client, EXPIRING, `short-lived ${n}`, 3);
    await stopRedis();
    redisDown = true;
    const stoppedAt = Date.now();
    let compactedMs: number | undefined;
    while (compactedMs === undefined && Date.now() - stoppedAt < COMPACTION_WAIT_MS) {
      if ((await getSubject(client, EXPIRING)).firstId > 1) compactedMs = Date.now() - stoppedAt;
      else await new Promise((r) => setTimeout(r, 250));
    }
    const check = await checkAcked(client, KEPT, acked);
    const idsReused = await probeReuse(client, KEPT, acked);
    const termAt = Date.now();
    const exitCode = await broker.stop('SIGTERM');
    const shutdownMs = Date.now() - termAt;
    const broken = brokenByCheck(check, 'none lost');
    if (idsReused > 0) broken.push(`${idsReused} ids reused`);
    if (compactedMs === undefined) broken.push(`compaction did not run within ${seconds(COMPACTION_WAIT_MS)}`);
    if (exitCode !== 0 || shutdownMs > 10_000) broken.push(`SIGTERM: exit ${exitCode} after ${seconds(shutdownMs)}`);
    const compaction =
      compactedMs === undefined ? 'compaction stopped' : `compaction ran ${seconds(compactedMs)} after the stop`;
    return {
      fault: 'Redis stopped',
      clientSaw: `Fetch ${describeAnswers(check.answers)}; ${compaction}; SIGTERM: exit ${exitCode} in ${seconds(shutdownMs)}`,
      acked: check.checked,
      lost: check.lost,
      idsReused,
      recovery: 'served throughout',
      promise: 'none lost',
      broken,
    };
  } finally {
    await broker.dispose();
    if (redisDown) await startRedis();
  }
}
