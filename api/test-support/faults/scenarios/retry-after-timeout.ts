// A client that times out and retries: every publish is sent with a deadline too short for its answer (the broker
// may still append it), then sent again with the same idempotency key until an answer comes. With the key honoured
// the subject ends with one record per message; without it, a record per send that reached the log.
import { Metadata, type ServiceError } from '@grpc/grpc-js';
import type { BrokerClient } from '../../../../proto/gen/broker.js';
import { startBrokerProcess } from '../../broker-process.js';
import { readRss } from '../../rss.js';
import { getSubject } from '../acked.js';
import type { FaultRow } from '../fault-row.js';

const SUBJECT = 'retried';

export interface RetryOutcome {
  readonly messages: number;
  readonly timeouts: number;
  /** Records on the subject beyond one per message. */
  readonly duplicates: number;
  /** Messages whose answers named different ids (their sends were not deduplicated). */
  readonly conflictingIds: number;
}

function publishKeyed(client: BrokerClient, key: string, body: string, deadlineMs: number): Promise<number> {
  return new Promise((resolve, reject) =>
    client.publish(
      { subject: SUBJECT, body: Buffer.from(body), expirationSeconds: 0, idempotencyKey: key },
      new Metadata(),
      { deadline: Date.now() + deadlineMs },
      (err: ServiceError | null, res) => (err ? reject(err) : resolve(res.id)),
    ),
  );
}

/** Sends each of `count` messages twice (a timed-out send, then a retry), 8 messages in flight. */
export async function publishWithRetries(client: BrokerClient, count: number): Promise<RetryOutcome> {
  let next = 0;
  let timeouts = 0;
  let conflictingIds = 0;
  const worker = async (): Promise<void> => {
    for (let n = next++; n < count; n = next++) {
      const key = `msg-${n}`;
      // The "timeout": a 1 ms deadline usually expires client-side after the request left (the broker appends).
      const first = await publishKeyed(client, key, key, 1).catch(() => undefined);
      if (first === undefined) timeouts++;
      const retried = await publishKeyed(client, key, key, 10_000);
      if (first !== undefined && first !== retried) conflictingIds++;
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  // Sends cut off by the deadline may still be on their way: let them land before counting.
  await new Promise((r) => setTimeout(r, 300));
  const info = await getSubject(client, SUBJECT);
  return { messages: count, timeouts, duplicates: info.count - count, conflictingIds };
}

export async function clientRetriesAfterTimeouts(): Promise<FaultRow> {
  const broker = await startBrokerProcess({ BROKER_FSYNC: 'batch' });
  try {
    const started = Date.now();
    const outcome = await publishWithRetries(broker.client(), 400);
    const pid = broker.child.pid;
    const rssPeakBytes = pid === undefined ? undefined : (await readRss(pid)).hwm;
    const broken: string[] = [];
    if (outcome.duplicates !== 0) broken.push(`${outcome.duplicates} duplicates after retries`);
    if (outcome.conflictingIds !== 0) broken.push(`${outcome.conflictingIds} messages answered with two ids`);
    return {
      fault: 'client retries after timeouts (idempotency keys)',
      clientSaw: `${outcome.timeouts} of ${outcome.messages} first sends timed out (DEADLINE_EXCEEDED); every retry answered OK with the first id`,
      acked: outcome.messages,
      lost: 0,
      idsReused: null,
      recovery: `none needed (${((Date.now() - started) / 1000).toFixed(1)} s for 800 sends)`,
      promise: 'none lost',
      duplicatesAfterRetries: outcome.duplicates,
      ...(rssPeakBytes === undefined ? {} : { rssPeakBytes }),
      broken,
    };
  } finally {
    await broker.dispose();
  }
}
