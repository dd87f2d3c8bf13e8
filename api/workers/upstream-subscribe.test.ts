// Subscribe streams served by a worker that does not own the subject: the real BrokerService of the local worker,
// its tail cursors from an UpstreamHub on a real owner over a unix socket. What its clients see is what the owner's
// own clients would see: the ids, the order, and the status and reason of a refusal.
import { status } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { pino } from 'pino';
import type { LogReader } from '../../core/index.js';
import type { BrokerClient } from '../../proto/gen/broker.js';
import { failure, subscribe } from '../test-support/broker-process.js';
import { serveInProcess } from '../test-support/in-process-service.js';
import { OwnerWorker } from './test-support/owner-worker.js';
import { UpstreamHub } from './upstream-hub.js';

const SUBJECT = 'payments';

describe('Subscribe on a worker that does not own the subject', () => {
  let owner: OwnerWorker;
  let ownerClient: BrokerClient;
  let hub: UpstreamHub;
  let local: Awaited<ReturnType<typeof serveInProcess>>;

  beforeEach(async () => {
    owner = await OwnerWorker.start();
    ownerClient = owner.client();
    hub = new UpstreamHub(() => ownerClient, {
      logger: pino({ level: 'silent' }),
      reconnectInitialMs: 20,
      reconnectMaxMs: 200,
    });
    // Everything but tail reads the owner's log directly (the forwarder's part); tail goes through the hub.
    const log = owner.log;
    const reader: LogReader = {
      get: (subject, offset) => log.get(subject, offset),
      readRange: (subject, from, limits) => log.readRange(subject, from, limits),
      subjectInfo: (subject) => log.subjectInfo(subject),
      listSubjects: (query) => log.listSubjects(query),
      tail: (subject, from) => hub.tail(subject, from),
    };
    local = await serveInProcess({ writer: log, reader });
  });

  afterEach(async () => {
    local.close();
    hub.close();
    ownerClient.close();
    await owner.dispose();
  });

  async function publish(from: number, to: number): Promise<void> {
    for (let i = from; i <= to; i++) assert.equal(await owner.publish(SUBJECT, `m${i}`), i);
  }

  describe('when many clients subscribe, live and from an old id', () => {
    it('should deliver every id in order to each, over one upstream stream', async () => {
      await publish(1, 20);
      const live = await Promise.all([1, 2, 3].map(() => subscribe(local.client, SUBJECT, 0)));
      const replay = await subscribe(local.client, SUBJECT, 5);
      await publish(21, 60);
      for (const sub of live) {
        const ids = (await sub.waitFor(40)).map((m) => m.id);
        assert.deepEqual(
          ids,
          Array.from({ length: 40 }, (_, i) => 21 + i),
        );
      }
      const replayed = (await replay.waitFor(56)).map((m) => m.id);
      assert.deepEqual(
        replayed,
        Array.from({ length: 56 }, (_, i) => 5 + i),
      );
      const last = replay.received.at(-1);
      assert.equal(last?.subject, SUBJECT);
      assert.equal(last?.body.toString(), 'm60');
      assert.equal(owner.subscribeCalls, 1);
      for (const sub of [...live, replay]) sub.stream.cancel();
    });
  });

  describe('when from_id is beyond the next id', () => {
    it("should refuse with the owner's own status, reason and message", async () => {
      await publish(1, 3);
      const direct = await subscribe(ownerClient, SUBJECT, 9).then(
        () => assert.fail('the owner accepted from_id 9'),
        (err: unknown) => failure(err),
      );
      const remote = await subscribe(local.client, SUBJECT, 9).then(
        () => assert.fail('the worker accepted from_id 9'),
        (err: unknown) => failure(err),
      );
      assert.deepEqual(remote, direct);
      assert.equal(remote.code, status.INVALID_ARGUMENT);
      assert.equal(remote.reason, 'INVALID_ID');
    });
  });

  describe('when the owner comes back with fewer ids than it had delivered', () => {
    it('should end the stream with INVALID_ARGUMENT, reason INVALID_ID', async () => {
      const sub = await subscribe(local.client, SUBJECT, 0);
      await publish(1, 3);
      await sub.waitFor(3);
      await owner.restart({ lost: true });
      const ended = await sub.waitEnd();
      assert.ok(ended !== undefined && ended !== 'end', 'the stream ended with an error');
      assert.equal(ended.code, status.INVALID_ARGUMENT);
      assert.equal(ended.reason, 'INVALID_ID');
      assert.match(ended.message, /from_id is beyond the next id 1/);
    });
  });
});
