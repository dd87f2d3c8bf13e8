// Acknowledged records with known bodies, and the two checks every fault scenario makes after the fault: is each
// acked id still served with its body (and if not, what did the client hear), and does the next publish reuse an id.
import { createHash } from 'node:crypto';
import type { BrokerClient, SubjectInfo } from '../../../proto/gen/broker.js';
import { failure, fetchMessage, publish } from '../broker-process.js';

/** id -> the body that was acknowledged with it. */
export type Acked = Map<number, Buffer>;

/** A deterministic, poorly compressible body (hex of SHA-256 chain), so a damaged byte lands in a body. */
export function knownBody(subject: string, n: number): Buffer {
  const seed = createHash('sha256').update(`${subject}:${n}`).digest('hex');
  return Buffer.from(seed + createHash('sha256').update(seed).digest('hex') + seed.slice(0, 32));
}

/**
 * Publishes one body and tallies what the client heard under `answers` ('OK', or the reason / status code it was
 * refused with); an acknowledged body joins `acked`. For scenarios that publish through a fault and count answers.
 */
export async function publishTallied(
  client: BrokerClient,
  subject: string,
  body: Buffer,
  acked: Acked,
  answers: Map<string, number>,
): Promise<void> {
  let key = 'OK';
  try {
    acked.set(await publish(client, subject, body), body);
  } catch (err) {
    const { reason, code } = failure(err);
    key = reason ?? `code ${code}`;
  }
  answers.set(key, (answers.get(key) ?? 0) + 1);
}

/** Publishes `count` records one call at a time from `parallel` clients; resolves with what was acknowledged. */
export async function publishKnown(clients: BrokerClient[], subject: string, count: number): Promise<Acked> {
  const acked: Acked = new Map();
  let next = 0;
  await Promise.all(
    clients.map(async (client) => {
      while (next < count) {
        const body = knownBody(subject, next++);
        acked.set(await publish(client, subject, body), body);
      }
    }),
  );
  return acked;
}

export interface AckedCheck {
  readonly checked: number;
  /** Acked ids not served with their body. */
  readonly lost: number;
  /** Acked ids served OK with a different body: never allowed. */
  readonly wrongBodies: number;
  /** Lost ids answered with something other than DATA_LOSS (e.g. EXPIRED_ID): lost data called something else. */
  readonly misreported: number;
  /** Status reason -> how many acked ids got it (OK included). */
  readonly answers: ReadonlyMap<string, number>;
}

/** Fetches every acked id (16 in flight) and classifies the answers. */
export async function checkAcked(client: BrokerClient, subject: string, acked: Acked): Promise<AckedCheck> {
  const answers = new Map<string, number>();
  const count = (key: string): void => void answers.set(key, (answers.get(key) ?? 0) + 1);
  let lost = 0;
  let wrongBodies = 0;
  let misreported = 0;
  const ids = [...acked.keys()];
  const worker = async (): Promise<void> => {
    for (let id = ids.pop(); id !== undefined; id = ids.pop()) {
      try {
        const message = await fetchMessage(client, subject, id);
        if (Buffer.from(message.body).equals(acked.get(id) ?? Buffer.alloc(0))) {
          count('OK');
          continue;
        }
        count('OK with a wrong body');
        wrongBodies++;
        lost++;
      } catch (err) {
        const { reason, code } = failure(err);
        const key = reason ?? `code ${code}`;
        count(key);
        lost++;
        if (key !== 'DATA_LOSS') misreported++;
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return { checked: acked.size, lost, wrongBodies, misreported, answers };
}

/** "990 OK, 10 DATA_LOSS": the answers, largest first. */
export function describeAnswers(answers: ReadonlyMap<string, number>): string {
  return [...answers.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([key, n]) => `${n} ${key}`)
    .join(', ');
}

/**
 * Publishes one probe record and returns how many acknowledged ids the sequence hands out again: 0 when the probe's
 * id is above every acked id, else the acked ids from the probe's id up (ids are dense, so all of them will be).
 */
export async function probeReuse(client: BrokerClient, subject: string, acked: Acked): Promise<number> {
  const id = await publish(client, subject, 'probe');
  const highest = Math.max(0, ...acked.keys());
  return id > highest ? 0 : highest - id + 1;
}

export function getSubject(client: BrokerClient, subject: string): Promise<SubjectInfo> {
  return new Promise((resolve, reject) =>
    client.getSubject({ subject }, (err, res) => (err ? reject(err) : resolve(res))),
  );
}

/** The broken promises an acked check shows, for a scenario that promises `none lost` or `losses reported`. */
export function brokenByCheck(check: AckedCheck, promise: 'none lost' | 'losses reported'): string[] {
  const broken: string[] = [];
  if (check.wrongBodies > 0) broken.push(`${check.wrongBodies} wrong bodies served as OK`);
  if (promise === 'none lost' && check.lost > 0) broken.push(`${check.lost} acked records lost`);
  if (check.misreported > 0) broken.push(`${check.misreported} lost ids not answered DATA_LOSS`);
  return broken;
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
