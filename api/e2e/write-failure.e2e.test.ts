// Issue 10: a failed write (the data dir's file system full) is visible (UNAVAILABLE to the publisher, health
// NOT_SERVING, an error log line, metrics) and the broker recovers by itself once the space is back, keeping every
// acknowledged record and the id sequence. The data dir is on a real 20 MiB tmpfs that a junk file fills.
import { credentials, makeClientConstructor, type Client, type ServiceError } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { BrokerClient, SubjectInfo } from '../../proto/gen/broker.js';
import {
  failure,
  fetchMessage,
  metricValue,
  publish,
  startBrokerProcess,
  subscribe,
  type BrokerProcess,
} from '../test-support/broker-process.js';
import { canMountTmpfs, mountSmallDisk, type SmallDisk } from '../test-support/full-disk.js';

const UNAVAILABLE = 14;
const SUBJECT = 'orders';

type HealthClient = Client & {
  check(req: { service: string }, cb: (err: ServiceError | null, res: { status: string }) => void): void;
};

function getSubject(client: BrokerClient, subject: string): Promise<SubjectInfo> {
  return new Promise((resolve, reject) => client.getSubject({ subject }, (e, r) => (e ? reject(e) : resolve(r))));
}

function bodyOf(i: number, size: number): Buffer {
  const b = Buffer.alloc(size, i % 251);
  b.write(`record ${i}`);
  return b;
}

describe('a broker whose data dir fills up', { skip: !canMountTmpfs() && 'needs root to mount a tmpfs' }, () => {
  let disk: SmallDisk;
  let broker: BrokerProcess;
  let health: HealthClient;

  const healthOf = async (): Promise<string[]> =>
    Promise.all(
      ['', 'broker.Broker'].map(
        (service) =>
          new Promise<string>((resolve, reject) =>
            health.check({ service }, (e, r) => (e ? reject(e) : resolve(r.status))),
          ),
      ),
    );

  before(async () => {
    disk = await mountSmallDisk(20);
    // The free-space floor (BROKER_MIN_FREE_BYTES, 64 MiB by default) would refuse every publish on a 20 MiB disk:
    // off here, so that the write itself fails with ENOSPC (issue 10). disk-limits covers the floor.
    broker = await startBrokerProcess({ BROKER_MIN_FREE_BYTES: '0' }, disk.dataDir);
    const Health = makeClientConstructor(healthService, 'grpc.health.v1.Health');
    health = new Health(broker.address, credentials.createInsecure()) as unknown as HealthClient;
  });
  after(async () => {
    health?.close();
    await broker?.dispose();
    await disk?.dispose();
  });

  it('should refuse publishes visibly while full, then recover without a restart and lose nothing', async () => {
    const client = broker.client();
    const acked = new Map<number, Buffer>();
    for (let i = 0; i < 20; i++) {
      const body = bodyOf(i, 1024);
      acked.set(await publish(client, SUBJECT, body), body);
    }
    const subscriber = await subscribe(client, SUBJECT, 1);
    await subscriber.waitFor(20);

    await disk.fill();
    let refused: unknown;
    for (let i = 20; i < 2000 && refused === undefined; i++) {
      const body = bodyOf(i, 64 * 1024);
      try {
        acked.set(await publish(client, SUBJECT, body), body);
      } catch (err) {
        refused = err;
      }
    }
    assert.ok(refused !== undefined, 'a publish on a full disk must fail');
    assert.equal(failure(refused).code, UNAVAILABLE, `a full disk is UNAVAILABLE: ${failure(refused).message}`);
    const lastAcked = Math.max(...acked.keys());

    // While failing: visible, and the figures of what is retained stay right.
    assert.deepEqual(await healthOf(), ['NOT_SERVING', 'NOT_SERVING']);
    const failing = await broker.metrics();
    assert.equal(metricValue(failing, 'broker_log_failed'), 1);
    assert.ok((metricValue(failing, 'broker_log_write_failures_total') ?? 0) >= 1);
    const logged = broker.logLines.map((l) => JSON.parse(l) as { level: number; err?: { message?: string } });
    assert.ok(
      logged.some((l) => l.level >= 50 && /ENOSPC|No space left/i.test(l.err?.message ?? '')),
      'the failure is logged at error with its cause',
    );
    const during = await getSubject(client, SUBJECT);
    assert.equal(during.lastId, lastAcked);
    assert.equal(during.count, acked.size, 'GetSubject counts what is retained while the log is failing');
    await assert.rejects(publish(client, SUBJECT, 'still full'), (err) => failure(err).code === UNAVAILABLE);
    const ended = await subscriber.waitEnd(5_000);
    assert.ok(ended !== undefined && ended !== 'end', 'open subscriptions end');
    assert.equal(ended.code, UNAVAILABLE, 'open subscriptions end UNAVAILABLE (they resume with from_id)');

    await disk.free();
    const started = Date.now();
    while ((await healthOf()).some((s) => s !== 'SERVING')) {
      assert.ok(Date.now() - started < 35_000, 'the broker recovers within 35 s of the space coming back');
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const recoveredAfterMs = Date.now() - started;
    const recovered = await broker.metrics();
    assert.equal(metricValue(recovered, 'broker_log_failed'), 0);

    const next = await publish(client, SUBJECT, 'after recovery');
    assert.ok(next > lastAcked, `the next id ${next} is above the last acknowledged ${lastAcked}`);
    for (const [id, body] of acked) {
      const m = await fetchMessage(client, SUBJECT, id);
      assert.ok(Buffer.from(m.body).equals(body), `id ${id} keeps its body`);
    }
    // Ids between the last acked and the next were refused (UNAVAILABLE): they either landed or stay unused.
    let landed = 0;
    for (let id = lastAcked + 1; id < next; id++) {
      landed += await fetchMessage(client, SUBJECT, id).then(
        () => 1,
        () => 0,
      );
    }
    const info = await getSubject(client, SUBJECT);
    assert.equal(info.lastId, next);
    assert.equal(info.count, acked.size + landed + 1, 'GetSubject counts every retained record');
    const resumed = await subscribe(client, SUBJECT, lastAcked);
    assert.equal((await resumed.waitFor(2))[0]?.id, lastAcked, 'subscribers resume with from_id');
    resumed.stream.cancel();
    console.log(
      `recovered ${recoveredAfterMs} ms after the space came back; ${acked.size} acked (last ${lastAcked}), ` +
        `next id ${next}, ${landed} refused records landed`,
    );
  });
});
