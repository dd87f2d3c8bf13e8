// broker.Broker in process over loopback gRPC, on a scripted Log: what the real log cannot be made to do
// (acknowledge out of order, fail, report removed records) and the one error mapping.
import { Server, ServerCredentials, credentials } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { AppendInput, LogReader, LogRecord, LogWriter, LookupResult, TailCursor } from '../../core/index.js';
import { BrokerClient, type MessageResponse, type PublishResponse, type SubjectInfo } from '../../proto/gen/broker.js';
import { brokerServiceDefinition } from './service-definition.js';
import { BrokerMetrics } from '../metrics/broker-metrics.js';
import { failure } from '../test-support/broker-process.js';
import { BrokerService } from './broker-service.js';

/** A writer and reader whose appends and lookups the test scripts; the other reads are unused here. */
class ScriptedLog implements LogWriter, LogReader {
  appended: AppendInput[] = [];
  /** Resolvers of pending appends, in call order; the test settles them in any order. */
  pending: Array<{ resolve: (offset: number) => void; reject: (err: unknown) => void }> = [];
  lookup: LookupResult = { kind: 'never', lastOffset: 0 };
  getError: unknown;

  append(input: AppendInput): Promise<number> {
    this.appended.push(input);
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
  }
  async get(): Promise<LookupResult> {
    if (this.getError !== undefined) throw this.getError;
    return this.lookup;
  }
  /** Settles the i-th pending append (in call order) with an offset or a failure. */
  settle(i: number, outcome: number | Error): void {
    const append = this.pending[i];
    if (append === undefined) throw new Error(`append ${i} is not pending (${this.pending.length} are)`);
    if (typeof outcome === 'number') append.resolve(outcome);
    else append.reject(outcome);
  }
  /** Open cursors, in tail() order. */
  cursors: IdleCursor[] = [];
  async tail(subject: string): Promise<TailCursor> {
    const cursor = new IdleCursor(subject);
    this.cursors.push(cursor);
    return cursor;
  }
  appendMany = unused;
  appendBatch = unused;
  readRange = unused;
  subjectInfo = unused;
  listSubjects = unused;
}

/** A cursor on a subject nobody publishes to: next() waits until close() ends it with an empty batch. */
class IdleCursor implements TailCursor {
  readonly position = 1;
  readonly lastBatchShared = false;
  closed = false;
  private wake: (() => void) | undefined;
  constructor(readonly subject: string) {}
  lag(): number {
    return 0;
  }
  next(): Promise<readonly LogRecord[]> {
    if (this.closed) return Promise.resolve([]);
    return new Promise((resolve) => (this.wake = () => resolve([])));
  }
  close(): void {
    this.closed = true;
    this.wake?.();
  }
  async *[Symbol.asyncIterator](): AsyncIterator<readonly LogRecord[]> {
    for (let batch = await this.next(); batch.length > 0; batch = await this.next()) yield batch;
  }
}

function unused(): Promise<never> {
  return Promise.reject(new Error('unused'));
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const now = 1_700_000_000_000;

/** An unexpected failure reaches the client as INTERNAL with a correlation id only (internal-errors.test.ts). */
function assertInternal(got: ReturnType<typeof failure> | undefined): void {
  assert.equal(got?.code, 13);
  assert.equal(got.reason, 'INTERNAL');
  assert.match(got.message, /^internal error; see the broker log, id [0-9a-f-]{36}$/);
}

/** A BrokerService on a scripted log, served over loopback gRPC. */
async function serve(log: ScriptedLog): Promise<{
  service: BrokerService;
  metrics: BrokerMetrics;
  client: BrokerClient;
  close(): void;
}> {
  const metrics = new BrokerMetrics(new Registry());
  const service = new BrokerService({
    writer: log,
    reader: log,
    metrics,
    retentionMs: 60_000,
    maxBodyBytes: 16,
    maxSubscribers: 10,
    now: () => now,
    logger: pino({ level: 'silent' }),
  });
  const server = new Server();
  server.addService(brokerServiceDefinition, service.handlers());
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const client = new BrokerClient(`127.0.0.1:${port}`, credentials.createInsecure());
  return {
    service,
    metrics,
    client,
    close() {
      client.close();
      server.forceShutdown();
    },
  };
}

describe('BrokerService', () => {
  let client: BrokerClient;
  let log: ScriptedLog;
  let close: () => void;

  before(async () => {
    log = new ScriptedLog();
    ({ client, close } = await serve(log));
  });
  after(() => close());

  describe('when the log acknowledges a PublishStream out of order', () => {
    it('should still write the acks in request order, each once its own append is done', async () => {
      log.appended = [];
      log.pending = [];
      const call = client.publishStream();
      const acks: number[] = [];
      call.on('data', (r: PublishResponse) => acks.push(r.id));
      for (let i = 0; i < 3; i++) call.write({ subject: 'ooo', body: Buffer.from(`m${i}`), expirationSeconds: 0 });
      await until(() => log.pending.length === 3);
      log.settle(2, 3);
      log.settle(1, 2);
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(acks, [], 'nothing before the first request is acknowledged');
      log.settle(0, 1);
      await until(() => acks.length === 3);
      assert.deepEqual(acks, [1, 2, 3]);
      call.end();
    });

    it('should end with the rejected request status only after the earlier appends are acknowledged, appending nothing for it', async () => {
      log.appended = [];
      log.pending = [];
      const call = client.publishStream();
      const acks: number[] = [];
      const ended = new Promise<ReturnType<typeof failure>>((resolve) => {
        call.on('data', (r: PublishResponse) => acks.push(r.id));
        call.on('error', (err) => resolve(failure(err)));
      });
      call.write({ subject: 'rej', body: Buffer.from('ok'), expirationSeconds: 0 });
      call.write({ subject: 'rej', body: Buffer.alloc(17), expirationSeconds: 0 });
      call.write({ subject: 'rej', body: Buffer.from('after'), expirationSeconds: 0 });
      await until(() => log.pending.length === 1);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(log.appended.length, 1, 'neither the rejected request nor the one after it reached the log');
      log.settle(0, 41);
      const err = await ended;
      assert.deepEqual(acks, [41]);
      assert.deepEqual(err, {
        code: 8,
        reason: 'MESSAGE_TOO_LARGE',
        message: 'body is 17 bytes, over the limit of 16 bytes (BROKER_MAX_BODY_BYTES)',
      });
    });
  });

  describe('when an append of a PublishStream fails', () => {
    it('should end with the failure after the earlier acks and acknowledge nothing after it', async () => {
      log.appended = [];
      log.pending = [];
      const call = client.publishStream();
      const acks: number[] = [];
      const ended = new Promise<ReturnType<typeof failure>>((resolve) => {
        call.on('data', (r: PublishResponse) => acks.push(r.id));
        call.on('error', (err) => resolve(failure(err)));
      });
      for (let i = 0; i < 3; i++) call.write({ subject: 'midfail', body: Buffer.from(`m${i}`), expirationSeconds: 0 });
      await until(() => log.pending.length === 3);
      log.settle(2, 3);
      log.settle(1, new Error('LevelDB write failed: disk full'));
      log.settle(0, 1);
      assertInternal(await ended);
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(acks, [1], 'the ack after the failed request would be misread as its ack');
    });
  });

  describe('when asked about a subject', () => {
    const getSubject = (subject: string): Promise<ReturnType<typeof failure> | SubjectInfo> =>
      new Promise<SubjectInfo>((resolve, reject) =>
        client.getSubject({ subject }, (e, r) => (e ? reject(e) : resolve(r))),
      ).catch(failure);

    it('should reject a bad subject with INVALID_ARGUMENT before reading anything', async () => {
      assert.deepEqual(await getSubject('a b'), {
        code: 3,
        reason: 'INVALID_ARGUMENT',
        message: 'subject must not contain whitespace or control characters (found U+0020 at index 1)',
      });
      assert.deepEqual(await getSubject(''), {
        code: 3,
        reason: 'INVALID_ARGUMENT',
        message: 'subject must not be empty',
      });
    });
  });

  describe('when the log fails', () => {
    it('should answer INTERNAL with a generic message (the detail is logged), never UNKNOWN', async () => {
      log.pending = [];
      const res = new Promise<PublishResponse>((resolve, reject) =>
        client.publish({ subject: 'fail', body: Buffer.from('x'), expirationSeconds: 0 }, (e, r) =>
          e ? reject(e) : resolve(r),
        ),
      ).then(() => undefined, failure);
      await until(() => log.pending.length === 1);
      log.settle(0, new Error('LevelDB write failed: disk full'));
      assertInternal(await res);
      log.getError = 'a thrown string';
      const fetched = await new Promise<MessageResponse>((resolve, reject) =>
        client.fetch({ subject: 'fail', id: 1 }, (e, r) => (e ? reject(e) : resolve(r))),
      ).then(() => undefined, failure);
      assertInternal(fetched);
      log.getError = undefined;
    });
  });

  describe('when fetching', () => {
    const fetch = (id: number): Promise<ReturnType<typeof failure> | MessageResponse> =>
      new Promise<MessageResponse>((resolve, reject) =>
        client.fetch({ subject: 'f', id }, (e, r) => (e ? reject(e) : resolve(r))),
      ).catch(failure);

    it('should say EXPIRED_ID for a record removed by retention, naming the first retained id', async () => {
      log.lookup = { kind: 'removed', firstOffset: 5 };
      assert.deepEqual(await fetch(2), {
        code: 3,
        reason: 'EXPIRED_ID',
        message: 'id 2 on subject "f" has expired: removed by retention; the first retained id is 5',
      });
    });

    it('should say EXPIRED_ID for a stored record past the subject retention at read time', async () => {
      log.lookup = {
        kind: 'record',
        record: { subject: 'f', offset: 3, body: Buffer.from('x'), publishedAtMs: now - 60_000, expirationSeconds: 0 },
      };
      assert.deepEqual(await fetch(3), {
        code: 3,
        reason: 'EXPIRED_ID',
        message: `id 3 on subject "f" has expired: the subject retention ended at ${new Date(now).toISOString()}`,
      });
    });

    it('should return a stored record with its own expiration while it lasts', async () => {
      log.lookup = {
        kind: 'record',
        record: { subject: 'f', offset: 4, body: Buffer.from('x'), publishedAtMs: now - 60_000, expirationSeconds: 61 },
      };
      const m = (await fetch(4)) as MessageResponse;
      assert.deepEqual([m.id, m.publishedAtMs, m.expirationSeconds, m.body.toString()], [4, now - 60_000, 61, 'x']);
    });

    it('should say INVALID_ID for an id never published, naming the range', async () => {
      log.lookup = { kind: 'never', lastOffset: 7 };
      assert.deepEqual(await fetch(8), {
        code: 3,
        reason: 'INVALID_ID',
        message: 'id 8 was never published on subject "f": ids on this subject run from 1 to 7',
      });
    });
  });
});

describe('BrokerService shutting down', () => {
  it('should end open streams with UNAVAILABLE once (a PublishStream after its acks), then refuse new calls', async () => {
    const log = new ScriptedLog();
    const { service, metrics, client, close } = await serve(log);
    try {
      const sub = client.subscribe({ subject: 'down', fromId: 0 });
      const subEnded = new Promise<ReturnType<typeof failure>>((resolve) => {
        sub.on('data', () => undefined);
        sub.on('error', (err) => resolve(failure(err)));
      });
      await new Promise((resolve) => sub.once('metadata', resolve));
      assert.equal(service.subscriberCount, 1);
      const stream = client.publishStream();
      const acks: number[] = [];
      const streamEnded = new Promise<ReturnType<typeof failure>>((resolve) => {
        stream.on('data', (r: PublishResponse) => acks.push(r.id));
        stream.on('error', (err) => resolve(failure(err)));
      });
      stream.write({ subject: 'down', body: Buffer.from('x'), expirationSeconds: 0 });
      await until(() => log.pending.length === 1);

      service.beginShutdown();
      assert.deepEqual(await subEnded, {
        code: 14,
        reason: 'UNAVAILABLE',
        message: 'the broker is shutting down; resubscribe from the next id',
      });
      assert.equal(service.subscriberCount, 0);
      assert.equal(log.cursors[0]?.closed, true, 'the cursor is released');
      assert.equal((await metrics.activeSubscribers.get()).values[0]?.value, 0);
      const drained = service.drain(5000);
      log.settle(0, 7);
      assert.equal(await drained, true);
      assert.deepEqual(await streamEnded, {
        code: 14,
        reason: 'UNAVAILABLE',
        message: 'the broker is shutting down; publish the requests not acknowledged on this stream again',
      });
      assert.deepEqual(acks, [7]);

      const refused = await new Promise<PublishResponse>((resolve, reject) =>
        client.publish({ subject: 'down', body: Buffer.from('y'), expirationSeconds: 0 }, (e, r) =>
          e ? reject(e) : resolve(r),
        ),
      ).then(() => undefined, failure);
      assert.deepEqual(refused, {
        code: 14,
        reason: 'UNAVAILABLE',
        message: 'the broker is shutting down; retry against another broker or after restart',
      });
      const late = client.publishStream();
      const lateEnded = await new Promise<ReturnType<typeof failure>>((resolve) =>
        late.on('error', (err) => resolve(failure(err))),
      );
      assert.deepEqual(lateEnded, refused);
      assert.equal(log.appended.length, 1, 'nothing reached the log after the shutdown began');
    } finally {
      close();
    }
  });
});
