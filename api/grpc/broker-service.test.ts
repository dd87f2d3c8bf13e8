// broker.Broker in process over loopback gRPC, on a scripted Log: what the real log cannot be made to do
// (acknowledge out of order, fail, report removed records) and the one error mapping.
import { Server, ServerCredentials, credentials } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import type { AppendInput, LogReader, LogWriter, LookupResult, TailCursor } from '../../core/index.js';
import { BrokerClient, type MessageResponse, type PublishResponse } from '../../proto/gen/broker.js';
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
  appendMany = unused;
  readRange = unused;
  tail = unused as (subject: string, from: number | 'live') => Promise<TailCursor>;
  subjectInfo = unused;
  listSubjects = unused;
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

describe('BrokerService', () => {
  let server: Server;
  let client: BrokerClient;
  let log: ScriptedLog;
  const now = 1_700_000_000_000;

  before(async () => {
    log = new ScriptedLog();
    const service = new BrokerService({
      writer: log,
      reader: log,
      metrics: new BrokerMetrics(new Registry()),
      retentionMs: 60_000,
      maxBodyBytes: 16,
      maxSubscribers: 10,
      now: () => now,
    });
    server = new Server();
    server.addService(brokerServiceDefinition, service.handlers());
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    client = new BrokerClient(`127.0.0.1:${port}`, credentials.createInsecure());
  });
  after(() => {
    client.close();
    server.forceShutdown();
  });

  describe('when the log acknowledges a PublishStream out of order', () => {
    it('should still write the acks in request order, each once its own append is done', async () => {
      log.appended = [];
      log.pending = [];
      const call = client.publishStream();
      const acks: number[] = [];
      call.on('data', (r: PublishResponse) => acks.push(r.id));
      for (let i = 0; i < 3; i++) call.write({ subject: 'ooo', body: Buffer.from(`m${i}`), expirationSeconds: 0 });
      await until(() => log.pending.length === 3);
      log.pending[2]!.resolve(3);
      log.pending[1]!.resolve(2);
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(acks, [], 'nothing before the first request is acknowledged');
      log.pending[0]!.resolve(1);
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
      log.pending[0]!.resolve(41);
      const err = await ended;
      assert.deepEqual(acks, [41]);
      assert.deepEqual(err, {
        code: 8,
        reason: 'MESSAGE_TOO_LARGE',
        message: 'body is 17 bytes, over the limit of 16 bytes (BROKER_MAX_BODY_BYTES)',
      });
    });
  });

  describe('when the log fails', () => {
    it('should answer INTERNAL with the failure, never UNKNOWN', async () => {
      log.pending = [];
      const res = new Promise<PublishResponse>((resolve, reject) =>
        client.publish({ subject: 'fail', body: Buffer.from('x'), expirationSeconds: 0 }, (e, r) =>
          e ? reject(e) : resolve(r),
        ),
      ).then(() => undefined, failure);
      await until(() => log.pending.length === 1);
      log.pending[0]!.reject(new Error('LevelDB write failed: disk full'));
      assert.deepEqual(await res, {
        code: 13,
        reason: 'INTERNAL',
        message: 'internal error: LevelDB write failed: disk full',
      });
      log.getError = 'a thrown string';
      const fetched = await new Promise<MessageResponse>((resolve, reject) =>
        client.fetch({ subject: 'fail', id: 1 }, (e, r) => (e ? reject(e) : resolve(r))),
      ).then(() => undefined, failure);
      assert.deepEqual(fetched, { code: 13, reason: 'INTERNAL', message: 'internal error: a thrown string' });
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
