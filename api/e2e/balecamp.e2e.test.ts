// The Bale Camp broker template's test cases (broker_test.go), ported to run over gRPC against a real broker.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { randomUUID } from 'node:crypto';
import {
  failure,
  fetchMessage,
  publish,
  startBrokerProcess,
  subscribe,
  type BrokerProcess,
} from '../test-support/broker-process.js';

const UNAVAILABLE = 14;
const subjectName = (): string => `ring-${randomUUID()}`;

describe('Bale Camp template cases over gRPC', () => {
  let broker: BrokerProcess;
  before(async () => {
    broker = await startBrokerProcess();
  });
  after(async () => broker.dispose());

  it('should publish with no subscription', async () => {
    assert.equal(await publish(broker.client(), subjectName(), 'hello'), 1);
  });

  it('should deliver a published message to every subscriber of the subject (fan-out)', async () => {
    const subject = subjectName();
    const subs = await Promise.all(Array.from({ length: 50 }, () => subscribe(broker.client(), subject)));
    const id = await publish(broker.client(), subject, 'fan-out');
    for (const s of subs) {
      const [m] = await s.waitFor(1);
      assert.deepEqual([m!.id, m!.body.toString()], [id, 'fan-out']);
      s.stream.cancel();
    }
  });

  it('should preserve publish order for a subscriber', async () => {
    const subject = subjectName();
    const sub = await subscribe(broker.client(), subject);
    const client = broker.client();
    for (let i = 0; i < 50; i++) await publish(client, subject, `m${i}`);
    const got = await sub.waitFor(50);
    assert.deepEqual(
      got.map((m) => m.body.toString()),
      Array.from({ length: 50 }, (_, i) => `m${i}`),
    );
    sub.stream.cancel();
  });

  it('should not broadcast to subscribers of other subjects', async () => {
    const a = subjectName();
    const b = subjectName();
    const subA = await subscribe(broker.client(), a);
    const subB = await subscribe(broker.client(), b);
    await publish(broker.client(), a, 'for a');
    await subA.waitFor(1);
    await publish(broker.client(), b, 'for b');
    await subB.waitFor(1);
    assert.deepEqual(
      subA.received.map((m) => m.body.toString()),
      ['for a'],
    );
    assert.deepEqual(
      subB.received.map((m) => m.body.toString()),
      ['for b'],
    );
    subA.stream.cancel();
    subB.stream.cancel();
  });

  it('should fetch a message that has not expired', async () => {
    const subject = subjectName();
    const id = await publish(broker.client(), subject, 'fresh', 60);
    assert.equal((await fetchMessage(broker.client(), subject, id)).body.toString(), 'fresh');
  });

  it('should not fetch a message that has expired', async () => {
    const subject = subjectName();
    const id = await publish(broker.client(), subject, 'stale', 1);
    await new Promise((r) => setTimeout(r, 1100));
    const err = await fetchMessage(broker.client(), subject, id).then(() => undefined, failure);
    assert.equal(err?.reason, 'EXPIRED_ID');
  });

  it('should not give a new subscription the previous messages', async () => {
    const subject = subjectName();
    await publish(broker.client(), subject, 'before');
    const sub = await subscribe(broker.client(), subject);
    await publish(broker.client(), subject, 'after');
    const got = await sub.waitFor(1);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(
      got.map((m) => m.body.toString()),
      ['after'],
    );
    sub.stream.cancel();
  });

  it('should take many concurrent subscribes on one subject and on many subjects', async () => {
    const one = subjectName();
    const many = Array.from({ length: 100 }, () => subjectName());
    const [onOne, onMany] = await Promise.all([
      Promise.all(Array.from({ length: 100 }, () => subscribe(broker.client(), one))),
      Promise.all(many.map((subject) => subscribe(broker.client(), subject))),
    ]);
    const client = broker.client();
    const id = await publish(client, one, 'to the hundred');
    const ids = await Promise.all(many.map((subject) => publish(client, subject, subject)));
    for (const s of onOne) {
      const [m] = await s.waitFor(1);
      assert.deepEqual([m?.id, m?.body.toString()], [id, 'to the hundred']);
    }
    for (const [i, s] of onMany.entries()) {
      const [m] = await s.waitFor(1);
      assert.deepEqual([m?.id, m?.body.toString()], [ids[i], many[i]]);
    }
    for (const s of [...onOne, ...onMany]) s.stream.cancel();
  });

  it('should take many concurrent publishes on one subject and on many subjects', async () => {
    const one = subjectName();
    const client = broker.client();
    const ids = await Promise.all(Array.from({ length: 500 }, () => publish(client, one, 'x')));
    assert.equal(new Set(ids).size, 500);
    const others = await Promise.all(Array.from({ length: 500 }, () => publish(client, subjectName(), 'x')));
    assert.ok(others.every((id) => id === 1));
  });

  it('should survive the data race test: concurrent publishers, subscribers and fetchers', async () => {
    const subject = subjectName();
    const subs = await Promise.all(Array.from({ length: 10 }, () => subscribe(broker.client(), subject)));
    const clients = Array.from({ length: 8 }, () => broker.client());
    await Promise.all(
      clients.map(async (c, n) => {
        for (let i = 0; i < 100; i++) {
          const id = await publish(c, subject, `w${n}-${i}`);
          if (i % 10 === 0) assert.equal((await fetchMessage(c, subject, id)).id, id);
        }
      }),
    );
    for (const s of subs) {
      const got = await s.waitFor(800);
      assert.deepEqual(
        got.map((m) => m.id),
        Array.from({ length: 800 }, (_, i) => i + 1),
      );
      s.stream.cancel();
    }
  });
});

describe('Bale Camp template cases on a closed broker', () => {
  it('should fail publish, subscribe and fetch with UNAVAILABLE while shutting down', async () => {
    const broker = await startBrokerProcess();
    const client = broker.client();
    await publish(client, 'closed', 'x');
    // Hold a subscription open, so the shutdown has something to drain while we call it.
    const sub = await subscribe(broker.client(), 'closed');
    broker.child.kill('SIGTERM');
    const ended = await sub.waitEnd();
    assert.equal(typeof ended === 'object' && ended.code, UNAVAILABLE);
    for (const attempt of [
      publish(client, 'closed', 'y'),
      fetchMessage(client, 'closed', 1),
      subscribe(client, 'closed'),
    ]) {
      const err = await attempt.then(() => undefined, failure);
      assert.equal(err?.code, UNAVAILABLE);
    }
    await broker.dispose();
  });
});
