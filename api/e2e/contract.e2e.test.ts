import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PublishResponse } from '../../proto/gen/broker.js';
import {
  failure,
  fetchMessage,
  metricValue,
  publish,
  startBrokerProcess,
  subscribe,
  type BrokerProcess,
} from '../test-support/broker-process.js';

const INVALID_ARGUMENT = 3;
const NOT_FOUND = 5;
const RESOURCE_EXHAUSTED = 8;
const UNAVAILABLE = 14;

describe('broker.Broker over gRPC (the contract)', () => {
  let broker: BrokerProcess;
  before(async () => {
    broker = await startBrokerProcess({ BROKER_MAX_BODY_BYTES: '1024' });
  });
  after(async () => broker.dispose());

  describe('when publishing and fetching', () => {
    it('should return dense ids from 1 and fetch body, id, subject, published time and original expiration', async () => {
      const client = broker.client();
      const before = Date.now();
      assert.equal(await publish(client, 'fetch.basic', 'one', 60), 1);
      assert.equal(await publish(client, 'fetch.basic', 'two'), 2);
      const m = await fetchMessage(client, 'fetch.basic', 1);
      assert.equal(m.body.toString(), 'one');
      assert.equal(m.id, 1);
      assert.equal(m.subject, 'fetch.basic');
      assert.equal(m.expirationSeconds, 60);
      assert.ok(m.publishedAtMs >= before - 5 && m.publishedAtMs <= Date.now() + 5);
    });

    it('should answer INVALID_ID for ids never published', async () => {
      const client = broker.client();
      await publish(client, 'fetch.invalid', 'x');
      for (const [subject, id] of [
        ['fetch.invalid', 0],
        ['fetch.invalid', 2],
        ['fetch.invalid', -1],
        ['fetch.unknown', 1],
      ] as const) {
        const err = await fetchMessage(client, subject, id).then(() => undefined, failure);
        assert.equal(err?.code, INVALID_ARGUMENT, `${subject}#${id}`);
        assert.equal(err?.reason, 'INVALID_ID', `${subject}#${id}`);
        assert.match(err!.message, new RegExp(`id ${id} was never published on subject "${subject}"`));
      }
    });

    it('should answer EXPIRED_ID once a message has expired, and keep it before', async () => {
      const client = broker.client();
      const id = await publish(client, 'fetch.expiring', 'short', 1);
      assert.equal((await fetchMessage(client, 'fetch.expiring', id)).body.toString(), 'short');
      await new Promise((r) => setTimeout(r, 1100));
      const err = await fetchMessage(client, 'fetch.expiring', id).then(() => undefined, failure);
      assert.equal(err?.code, INVALID_ARGUMENT);
      assert.equal(err?.reason, 'EXPIRED_ID');
      assert.match(err!.message, /has expired: its expiration of 1s ended at/);
    });
  });

  describe('when input is bad', () => {
    const cases: Array<{
      name: string;
      subject: string;
      body?: Buffer;
      expiration?: number;
      code: number;
      reason: string;
      message: string;
    }> = [
      {
        name: 'an empty subject',
        subject: '',
        code: INVALID_ARGUMENT,
        reason: 'INVALID_ARGUMENT',
        message: 'subject must not be empty',
      },
      {
        name: 'a 256-byte subject',
        subject: 'x'.repeat(256),
        code: INVALID_ARGUMENT,
        reason: 'INVALID_ARGUMENT',
        message: 'subject is 256 bytes of UTF-8, over the limit of 255',
      },
      {
        name: 'a subject with a space',
        subject: 'a b',
        code: INVALID_ARGUMENT,
        reason: 'INVALID_ARGUMENT',
        message: 'subject must not contain whitespace or control characters (found U+0020 at index 1)',
      },
      {
        name: 'a subject with a control character',
        subject: 'a\u0001',
        code: INVALID_ARGUMENT,
        reason: 'INVALID_ARGUMENT',
        message: 'subject must not contain whitespace or control characters (found U+0001 at index 1)',
      },
      {
        name: 'a negative expiration',
        subject: 'bad.input',
        expiration: -5,
        code: INVALID_ARGUMENT,
        reason: 'INVALID_ARGUMENT',
        message: 'expirationSeconds must be >= 0 (0 = the subject retention), got -5',
      },
      {
        name: 'a body over the limit',
        subject: 'bad.input',
        body: Buffer.alloc(1025),
        code: RESOURCE_EXHAUSTED,
        reason: 'MESSAGE_TOO_LARGE',
        message: 'body is 1025 bytes, over the limit of 1024 bytes (BROKER_MAX_BODY_BYTES)',
      },
    ];
    for (const c of cases) {
      it(`should reject ${c.name} with ${c.reason} and append nothing`, async () => {
        const client = broker.client();
        const err = await new Promise<PublishResponse>((resolve, reject) =>
          client.publish(
            { subject: c.subject, body: c.body ?? Buffer.from('x'), expirationSeconds: c.expiration ?? 0 },
            (e, r) => (e ? reject(e) : resolve(r)),
          ),
        ).then(() => undefined, failure);
        assert.deepEqual(err, { code: c.code, reason: c.reason, message: c.message });
      });
    }

    it('should have appended nothing for the rejected publishes', async () => {
      const client = broker.client();
      for (const rejected of [{ expirationSeconds: -5 }, { body: Buffer.alloc(1025) }]) {
        const err = await new Promise<PublishResponse>((resolve, reject) =>
          client.publish(
            { subject: 'bad.nothing', body: Buffer.from('x'), expirationSeconds: 0, ...rejected },
            (e, r) => (e ? reject(e) : resolve(r)),
          ),
        ).then(() => undefined, failure);
        assert.ok(err !== undefined, 'the publish was rejected');
      }
      const err = await fetchMessage(client, 'bad.nothing', 1).then(() => undefined, failure);
      assert.equal(err?.reason, 'INVALID_ID');
      const info = await new Promise((resolve, reject) =>
        client.getSubject({ subject: 'bad.nothing' }, (e, r) => (e ? reject(e) : resolve(r))),
      ).then(() => undefined, failure);
      assert.equal(info?.reason, 'SUBJECT_NOT_FOUND', 'no subject was created by a rejected publish');
    });

    it('should reject a subscription from beyond the next id with INVALID_ID', async () => {
      const client = broker.client();
      await publish(client, 'sub.beyond', 'x');
      await assert.rejects(subscribe(client, 'sub.beyond', 3), (err: unknown) => {
        assert.deepEqual(failure(err), {
          code: INVALID_ARGUMENT,
          reason: 'INVALID_ID',
          message: 'id 3 was never published on subject "sub.beyond": from_id is beyond the next id 2',
        });
        return true;
      });
    });

    it('should answer NOT_FOUND for GetSubject of an unknown subject', async () => {
      const client = broker.client();
      const err = await new Promise((resolve, reject) =>
        client.getSubject({ subject: 'never.seen' }, (e, r) => (e ? reject(e) : resolve(r))),
      ).then(() => undefined, failure);
      assert.deepEqual(err, {
        code: NOT_FOUND,
        reason: 'SUBJECT_NOT_FOUND',
        message: 'subject "never.seen" has never been published to',
      });
    });
  });

  describe('when subscribing', () => {
    it('should replay from an offset then go live with no gap and no duplicate while publishers run', async () => {
      const client = broker.client();
      for (let i = 0; i < 200; i++) await publish(client, 'replay', `m${i}`);
      const publishing = Promise.all(
        Array.from({ length: 4 }, async () => {
          for (let i = 0; i < 100; i++) await publish(client, 'replay', 'live');
        }),
      );
      const sub = await subscribe(broker.client(), 'replay', 50);
      await publishing;
      const got = await sub.waitFor(551);
      assert.deepEqual(
        got.map((m) => m.id),
        Array.from({ length: 551 }, (_, i) => i + 50),
      );
      sub.stream.cancel();
    });

    it('should give 8 concurrent publishers to one subject exactly the ids 1..N', async () => {
      const clients = Array.from({ length: 8 }, () => broker.client());
      const ids = (
        await Promise.all(
          clients.map(async (c) => Promise.all(Array.from({ length: 250 }, () => publish(c, 'eight', 'x')))),
        )
      ).flat();
      assert.deepEqual(
        ids.sort((a, b) => a - b),
        Array.from({ length: 2000 }, (_, i) => i + 1),
      );
    });

    it('should keep delivering to a reading subscriber while another never reads', async () => {
      const client = broker.client();
      const stalled = await subscribe(broker.client(), 'slow', 0);
      stalled.stream.pause();
      const reader = await subscribe(broker.client(), 'slow', 0);
      const body = Buffer.alloc(512, 7);
      for (let i = 0; i < 20_000; i += 500) {
        await Promise.all(Array.from({ length: 500 }, () => publish(client, 'slow', body)));
      }
      const got = await reader.waitFor(20_000, 60_000);
      assert.equal(got.length, 20_000);
      assert.equal(got[19_999]?.id, 20_000);
      assert.ok(
        stalled.received.length < 20_000,
        `the paused subscriber read ${stalled.received.length}: it never stalled the broker`,
      );
      assert.equal(stalled.ended, undefined, 'the paused subscriber is still subscribed');
      stalled.stream.cancel();
      reader.stream.cancel();
    });

    it('should remove cancelled subscribers from active_subscribers', async () => {
      const baseline = metricValue(await broker.metrics(), 'active_subscribers') ?? 0;
      const subs = await Promise.all(Array.from({ length: 20 }, () => subscribe(broker.client(), 'gauge', 0)));
      assert.equal(metricValue(await broker.metrics(), 'active_subscribers'), baseline + 20);
      for (const s of subs) s.stream.cancel();
      const deadline = Date.now() + 5000;
      while (metricValue(await broker.metrics(), 'active_subscribers') !== baseline && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      assert.equal(metricValue(await broker.metrics(), 'active_subscribers'), baseline);
    });
  });

  describe('when publishing on a stream', () => {
    it('should acknowledge in request order and end with the status of a rejected request after the earlier acks', async () => {
      const client = broker.client();
      const call = client.publishStream();
      const acks: number[] = [];
      const ended = new Promise<ReturnType<typeof failure>>((resolve) => {
        call.on('data', (r: PublishResponse) => acks.push(r.id));
        call.on('error', (err) => resolve(failure(err)));
      });
      for (let i = 0; i < 100; i++)
        call.write({ subject: 'pstream', body: Buffer.from(`m${i}`), expirationSeconds: 0 });
      call.write({ subject: 'pstream', body: Buffer.from('bad'), expirationSeconds: -1 });
      call.write({ subject: 'pstream', body: Buffer.from('after'), expirationSeconds: 0 });
      const err = await ended;
      assert.deepEqual(
        acks,
        Array.from({ length: 100 }, (_, i) => i + 1),
      );
      assert.equal(err.code, INVALID_ARGUMENT);
      assert.equal(err.reason, 'INVALID_ARGUMENT');
      const after = await fetchMessage(client, 'pstream', 101).then(() => undefined, failure);
      assert.equal(after?.reason, 'INVALID_ID', 'nothing was appended for the rejected request or after it');
    });
  });

  describe('when publishing a batch', () => {
    const publishBatch = (
      client: ReturnType<BrokerProcess['client']>,
      messages: Array<{ subject: string; body: string; expirationSeconds?: number }>,
    ): Promise<number[]> =>
      new Promise((resolve, reject) =>
        client.publishBatch(
          {
            messages: messages.map((m) => ({
              subject: m.subject,
              body: Buffer.from(m.body),
              expirationSeconds: m.expirationSeconds ?? 0,
            })),
          },
          (err, res) => (err ? reject(err) : resolve(res.ids)),
        ),
      );

    it('should give each subject consecutive ids, answer them in request order, and make every message fetchable', async () => {
      const client = broker.client();
      await publish(client, 'batch.a', 'before');
      const ids = await publishBatch(client, [
        { subject: 'batch.a', body: 'a1' },
        { subject: 'batch.b', body: 'b1', expirationSeconds: 30 },
        { subject: 'batch.a', body: 'a2' },
        { subject: 'batch.b', body: 'b2' },
        { subject: 'batch.a', body: 'a3' },
      ]);
      assert.deepEqual(ids, [2, 1, 3, 2, 4]);
      assert.equal((await fetchMessage(client, 'batch.a', 3)).body.toString(), 'a2');
      const b1 = await fetchMessage(client, 'batch.b', 1);
      assert.equal(b1.body.toString(), 'b1');
      assert.equal(b1.expirationSeconds, 30);
      assert.equal(await publish(client, 'batch.a', 'after'), 5);
    });

    it('should reject a batch with one bad message, naming it, and append none of the others', async () => {
      const client = broker.client();
      const err = await publishBatch(client, [
        { subject: 'batch.bad', body: 'fine' },
        { subject: 'batch.bad', body: 'x'.repeat(1025) },
      ]).then(() => undefined, failure);
      assert.equal(err?.code, RESOURCE_EXHAUSTED);
      assert.equal(err?.reason, 'MESSAGE_TOO_LARGE');
      assert.match(err!.message, /^messages\[1\]: body is 1025 bytes, over the limit of 1024 bytes/);
      const empty = await publishBatch(client, []).then(() => undefined, failure);
      assert.equal(empty?.code, INVALID_ARGUMENT);
      assert.match(empty!.message, /a batch needs at least one message/);
      const neg = await publishBatch(client, [{ subject: 'batch.bad', body: 'y', expirationSeconds: -1 }]).then(
        () => undefined,
        failure,
      );
      assert.match(neg!.message, /^messages\[0\]: expirationSeconds must be >= 0/);
      assert.equal(await publish(client, 'batch.bad', 'first'), 1, 'nothing was appended by the rejected batches');
    });

    it('should deliver a batch to a live subscriber in id order', async () => {
      const client = broker.client();
      const sub = await subscribe(client, 'batch.live');
      await publishBatch(
        client,
        Array.from({ length: 50 }, (_, i) => ({ subject: 'batch.live', body: `m${i}` })),
      );
      const got = await sub.waitFor(50);
      assert.deepEqual(
        got.map((m) => m.id),
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
      sub.stream.cancel();
    });
  });

  describe('when paging and listing', () => {
    it('should page a subject with FetchRange and list subjects with GetSubject figures', async () => {
      const client = broker.client();
      for (let i = 0; i < 25; i++) await publish(client, 'page.a', `m${i}`);
      await publish(client, 'page.b', 'x');
      const page = await new Promise<{ messages: { id: number }[]; nextId: number; lastId: number }>(
        (resolve, reject) =>
          client.fetchRange({ subject: 'page.a', fromId: 5, maxMessages: 10, maxBytes: 0 }, (e, r) =>
            e ? reject(e) : resolve(r),
          ),
      );
      assert.deepEqual(
        page.messages.map((m) => m.id),
        [5, 6, 7, 8, 9, 10, 11, 12, 13, 14],
      );
      assert.equal(page.nextId, 15);
      assert.equal(page.lastId, 25);
      const list = await new Promise<{ subjects: { subject: string; lastId: number }[]; nextPageToken: string }>(
        (resolve, reject) =>
          client.listSubjects({ prefix: 'page.', pageSize: 1, pageToken: '' }, (e, r) => (e ? reject(e) : resolve(r))),
      );
      assert.deepEqual(
        list.subjects.map((s) => [s.subject, s.lastId]),
        [['page.a', 25]],
      );
      const next = await new Promise<{ subjects: { subject: string }[]; nextPageToken: string }>((resolve, reject) =>
        client.listSubjects({ prefix: 'page.', pageSize: 1, pageToken: list.nextPageToken }, (e, r) =>
          e ? reject(e) : resolve(r),
        ),
      );
      assert.deepEqual(
        next.subjects.map((s) => s.subject),
        ['page.b'],
      );
      assert.equal(next.nextPageToken, '');
    });
  });
});

describe('broker lifecycle', () => {
  it('should end open subscriptions with UNAVAILABLE on SIGTERM, exit 0, and keep every acknowledged message', async () => {
    const broker = await startBrokerProcess();
    try {
      const client = broker.client();
      const sub = await subscribe(broker.client(), 'life', 0);
      const ids = await Promise.all(Array.from({ length: 50 }, (_, i) => publish(client, 'life', `m${i}`)));
      assert.equal(await broker.stop('SIGTERM'), 0);
      const ended = await sub.waitEnd();
      assert.equal(typeof ended === 'object' && ended.code, UNAVAILABLE);
      const again = await broker.restart();
      try {
        const c2 = again.client();
        for (const id of ids) assert.equal((await fetchMessage(c2, 'life', id)).id, id);
        assert.equal(await publish(c2, 'life', 'next'), 51);
      } finally {
        await again.dispose();
      }
    } finally {
      await broker.dispose();
    }
  });

  it('should keep every acknowledged publish after a SIGKILL under load', async () => {
    const broker = await startBrokerProcess();
    const acked: number[] = [];
    try {
      const clients = Array.from({ length: 4 }, () => broker.client());
      let stop = false;
      const load = Promise.all(
        clients.map(async (c) => {
          while (!stop) {
            try {
              acked.push(await publish(c, 'killed', 'payload'));
            } catch {
              return;
            }
          }
        }),
      );
      while (acked.length < 2000) await new Promise((r) => setTimeout(r, 20));
      broker.child.kill('SIGKILL');
      stop = true;
      await load;
      const again = await startBrokerProcess({}, broker.dataDir);
      try {
        const c = again.client();
        const max = Math.max(...acked);
        for (const id of acked) assert.equal((await fetchMessage(c, 'killed', id)).id, id);
        assert.ok((await publish(c, 'killed', 'next')) > max);
      } finally {
        await again.dispose();
      }
    } finally {
      await broker.dispose();
    }
  });
});
