// The CQL server (ScyllaDB's stand-in) unreachable when the broker starts. Promised: the broker starts and serves
// the local log (the cold tier degraded), and replication catches up once the server is back, losing nothing.
import {
  randomKeyspace,
  startCql,
  stopCql,
  testCqlContactPoints,
  testCqlLocalDc,
} from '../../../../test-support/services.js';
import { startBrokerProcess, type BrokerProcess } from '../../broker-process.js';
import {
  type Acked,
  brokenByCheck,
  checkAcked,
  describeAnswers,
  getSubject,
  probeReuse,
  publishKnown,
  seconds,
} from '../acked.js';
import type { FaultRow } from '../fault-row.js';

const SUBJECT = 'cold';
const CATCH_UP_WAIT_MS = 120_000;

/** Waits until every sealed segment of SUBJECT is replicated; resolves with the ms it took, or undefined. */
async function untilReplicated(broker: BrokerProcess): Promise<number | undefined> {
  const client = broker.client();
  const start = Date.now();
  while (Date.now() - start < CATCH_UP_WAIT_MS) {
    const info = await getSubject(client, SUBJECT);
    if (info.sealedSegments > 0 && info.replicatedSegments >= info.sealedSegments) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 500));
  }
  return undefined;
}

async function whileStarted(broker: BrokerProcess, acked: Acked): Promise<FaultRow> {
  const caughtUpMs = await untilReplicated(broker);
  const client = broker.client();
  const check = await checkAcked(client, SUBJECT, acked);
  const idsReused = await probeReuse(client, SUBJECT, acked);
  const broken = brokenByCheck(check, 'none lost');
  if (idsReused > 0) broken.push(`${idsReused} ids reused`);
  if (caughtUpMs === undefined) broken.push(`replication did not catch up within ${seconds(CATCH_UP_WAIT_MS)}`);
  return {
    fault: 'CQL server unreachable at start',
    clientSaw: `broker started degraded; Fetch ${describeAnswers(check.answers)}`,
    acked: check.checked,
    lost: check.lost,
    idsReused,
    recovery:
      caughtUpMs === undefined
        ? 'replication never caught up'
        : `${seconds(caughtUpMs)} from CQL back to every sealed segment replicated`,
    promise: 'none lost',
    broken,
  };
}

export async function cqlDownAtStart(): Promise<FaultRow> {
  const env = {
    SCYLLA_CONTACT_POINTS: testCqlContactPoints().join(','),
    SCYLLA_LOCAL_DC: testCqlLocalDc(),
    SCYLLA_KEYSPACE: randomKeyspace('faults'),
    BROKER_SEGMENT_MAX_RECORDS: '50',
    BROKER_COMPACTION_INTERVAL: '1s',
  };
  await stopCql();
  let cqlDown = true;
  try {
    let broker: BrokerProcess;
    try {
      broker = await startBrokerProcess(env);
    } catch (err) {
      const cause = (err as Error).message.split('\n').find((l) => /error|fail|connect/i.test(l)) ?? '';
      return {
        fault: 'CQL server unreachable at start',
        clientSaw: `start refused: ${cause.trim().slice(0, 160)}`,
        acked: 0,
        lost: 0,
        idsReused: null,
        recovery: 'none (does not start)',
        promise: 'none lost',
        broken: ['refused to start without the cold tier'],
      };
    }
    try {
      const acked = await publishKnown([broker.client(), broker.client()], SUBJECT, 300);
      await startCql();
      cqlDown = false;
      return await whileStarted(broker, acked);
    } finally {
      await broker.dispose();
    }
  } finally {
    if (cqlDown) await startCql();
  }
}
