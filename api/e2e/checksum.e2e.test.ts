// Issue 10: a record whose bytes were damaged on disk (a byte flipped in a LevelDB table file of a stopped broker) is
// never served: Fetch answers DATA_LOSS (reason DATA_LOSS), a Subscribe delivers every record before it and then ends
// with DATA_LOSS, FetchRange pages stop before it; each detection is counted and logged at error.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { partitionDirOf } from '../../log/index.js';
import { compactIntoTables, flipByteInTables } from '../../log/test-support/damaged-table.js';
import type { BrokerClient, FetchRangeResponse } from '../../proto/gen/broker.js';
import {
  failure,
  fetchMessage,
  metricValue,
  publish,
  startBrokerProcess,
  subscribe,
  type BrokerProcess,
} from '../test-support/broker-process.js';

const DATA_LOSS = 15;
const SUBJECT = 'orders.checked';
const RECORDS = 100;
const DAMAGED = 37;

function fetchRange(client: BrokerClient, fromId: number): Promise<FetchRangeResponse> {
  return new Promise((resolve, reject) =>
    client.fetchRange({ subject: SUBJECT, fromId, maxMessages: 1000, maxBytes: 0 }, (e, r) =>
      e ? reject(e) : resolve(r),
    ),
  );
}

describe('a broker serving a data dir with a damaged record', () => {
  let first: BrokerProcess;
  let broker: BrokerProcess;
  // Random bodies: incompressible, so LevelDB stores them as they are and the flipped byte lands in a body.
  const bodies = Array.from({ length: RECORDS }, () => randomBytes(1024));

  before(async () => {
    first = await startBrokerProcess();
    const client = first.client();
    for (const [i, body] of bodies.entries()) assert.equal(await publish(client, SUBJECT, body), i + 1);
    assert.equal(await first.stop(), 0);
    // The LevelDB database of the subject's partition.
    const partition = await partitionDirOf(first.dataDir, SUBJECT);
    await compactIntoTables(partition);
    await flipByteInTables(partition, bodies[DAMAGED - 1] ?? Buffer.alloc(0));
    broker = await first.restart();
  });
  after(async () => {
    await broker?.dispose();
    await first?.dispose();
  });

  describe('when a client fetches the damaged id', () => {
    it('should answer DATA_LOSS with reason DATA_LOSS, and serve the ids around it', async () => {
      const client = broker.client();
      const err = await fetchMessage(client, SUBJECT, DAMAGED).then(() => undefined, failure);
      assert.deepEqual(err, {
        code: DATA_LOSS,
        reason: 'DATA_LOSS',
        message:
          `id ${DAMAGED} on subject "${SUBJECT}" was acknowledged but is lost: ` +
          'its stored record failed its checksum (CRC32C); it is not served',
      });
      for (const id of [DAMAGED - 1, DAMAGED + 1])
        assert.deepEqual((await fetchMessage(client, SUBJECT, id)).body, bodies[id - 1]);
    });
  });

  describe('when a client subscribes from before the damaged id', () => {
    it('should deliver every record before it, in order, then end the stream with DATA_LOSS', async () => {
      const sub = await subscribe(broker.client(), SUBJECT, 1);
      assert.deepEqual(await sub.waitEnd(), {
        code: DATA_LOSS,
        reason: 'DATA_LOSS',
        message:
          `id ${DAMAGED} on subject "${SUBJECT}" was acknowledged but is lost: ` +
          'its stored record failed its checksum (CRC32C); it is not served',
      });
      assert.deepEqual(
        sub.received.map((m) => m.id),
        Array.from({ length: DAMAGED - 1 }, (_, i) => i + 1),
      );
      sub.received.forEach((m) => assert.deepEqual(m.body, bodies[m.id - 1], `id ${m.id}`));
    });
  });

  describe('when a client pages through the subject', () => {
    it('should end the page before the damaged id, then answer DATA_LOSS for the page that starts at it', async () => {
      const client = broker.client();
      const page = await fetchRange(client, 1);
      assert.equal(page.messages.length, DAMAGED - 1);
      assert.equal(page.nextId, DAMAGED);
      const err = await fetchRange(client, DAMAGED).then(() => undefined, failure);
      assert.deepEqual([err?.code, err?.reason], [DATA_LOSS, 'DATA_LOSS']);
    });
  });

  describe('when an operator looks', () => {
    it('should count every failed read in broker_checksum_failures_total and log each at error', async () => {
      // Fetch, Subscribe and FetchRange above each met the damaged record once.
      assert.equal(metricValue(await broker.metrics(), 'broker_checksum_failures_total'), 3);
      const errors = broker.logLines
        .filter((line) => line.startsWith('{'))
        .map(
          (line) => JSON.parse(line) as { level: number; msg: string; reason?: string; subject?: string; id?: number },
        )
        .filter((entry) => entry.level === 50 && entry.reason === 'DATA_LOSS');
      assert.deepEqual(
        errors.map((e) => [e.msg, e.subject, e.id]),
        Array.from({ length: 3 }, () => ['a stored record failed its checksum (CRC32C): not served', SUBJECT, DAMAGED]),
      );
    });
  });
});
