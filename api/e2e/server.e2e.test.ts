// The server around broker.Broker: health, reflection, HTTP/2 windows, expiry at read time, shutdown of
// publish streams, and the CLI's output and error format.
import { credentials, makeClientConstructor, type Client, type ServiceError } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { FetchRangeResponse, PublishResponse } from '../../proto/gen/broker.js';
import { CONNECTION_WINDOW_BYTES, STREAM_WINDOW_BYTES } from '../grpc/http2-windows.js';
import {
  failure,
  fetchMessage,
  publish,
  startBrokerProcess,
  subscribe,
  type BrokerProcess,
} from '../test-support/broker-process.js';

const CLI = fileURLToPath(new URL('../cli.ts', import.meta.url));
const GRPCURL = fileURLToPath(new URL('../../.tools/bin/grpcurl', import.meta.url));
const INVALID_ARGUMENT = 3;
const UNAVAILABLE = 14;

type HealthClient = Client & {
  check(req: { service: string }, cb: (err: ServiceError | null, res: { status: string }) => void): void;
};

/** Runs the CLI against a broker; resolves with its exit code and output (never rejects). */
function cli(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

describe('broker server', () => {
  let broker: BrokerProcess;
  before(async () => {
    broker = await startBrokerProcess();
  });
  after(async () => broker.dispose());

  describe('when probed', () => {
    it('should answer grpc.health.v1 SERVING for the server and for broker.Broker', async () => {
      const Health = makeClientConstructor(healthService, 'grpc.health.v1.Health');
      const client = new Health(broker.address, credentials.createInsecure()) as unknown as HealthClient;
      try {
        for (const name of ['', 'broker.Broker']) {
          const res = await new Promise<{ status: string }>((resolve, reject) =>
            client.check({ service: name }, (e, r) => (e ? reject(e) : resolve(r))),
          );
          assert.equal(res.status, 'SERVING', name);
        }
      } finally {
        client.close();
      }
    });

    it('should advertise enlarged HTTP/2 receive windows (per stream and per connection)', async () => {
      const session = http2.connect(`http://${broker.address}`);
      try {
        const settings = await new Promise<http2.Settings>((resolve) => session.once('remoteSettings', resolve));
        assert.equal(settings.initialWindowSize, STREAM_WINDOW_BYTES);
        const deadline = Date.now() + 2000;
        while (session.state.remoteWindowSize !== CONNECTION_WINDOW_BYTES && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 20));
        assert.equal(session.state.remoteWindowSize, CONNECTION_WINDOW_BYTES);
      } finally {
        session.close();
      }
    });

    it('should list every service and decode ErrorInfo through reflection (grpcurl)', async () => {
      assert.ok(existsSync(GRPCURL), `${GRPCURL} is missing: npm test builds it (scripts/tools.sh grpcurl)`);
      const run = promisify(execFile);
      const list = await run(GRPCURL, ['-plaintext', broker.address, 'list']);
      assert.deepEqual(list.stdout.trim().split('\n').sort(), [
        'broker.Broker',
        'grpc.health.v1.Health',
        'grpc.reflection.v1.ServerReflection',
      ]);
      const failed = await run(GRPCURL, [
        '-plaintext',
        '-d',
        '{"subject":"reflect.none","id":1}',
        broker.address,
        'broker.Broker/Fetch',
      ]).then(
        () => undefined,
        (err: { stdout: string; stderr: string }) => err.stdout + err.stderr,
      );
      assert.match(failed ?? '', /"reason": "INVALID_ID"/);
      assert.match(failed ?? '', /"domain": "broker"/);
    });
  });

  describe('when records expire', () => {
    it('should leave expired records out of replays and FetchRange pages, judged at read time', async () => {
      const client = broker.client();
      assert.equal(await publish(client, 'expiry.read', 'short', 1), 1);
      assert.equal(await publish(client, 'expiry.read', 'kept'), 2);
      await new Promise((r) => setTimeout(r, 1100));
      const sub = await subscribe(broker.client(), 'expiry.read', 1);
      const [first] = await sub.waitFor(1);
      assert.deepEqual([first!.id, first!.body.toString()], [2, 'kept']);
      sub.stream.cancel();
      const page = await new Promise<FetchRangeResponse>((resolve, reject) =>
        client.fetchRange({ subject: 'expiry.read', fromId: 1, maxMessages: 10, maxBytes: 0 }, (e, r) =>
          e ? reject(e) : resolve(r),
        ),
      );
      assert.deepEqual(
        page.messages.map((m) => m.id),
        [2],
      );
      assert.equal(page.nextId, 3);
    });
  });

  describe('when paging is misused', () => {
    it('should reject a page token the broker did not issue', async () => {
      const client = broker.client();
      const err = await new Promise((resolve, reject) =>
        client.listSubjects({ prefix: '', pageSize: 10, pageToken: '!!' }, (e, r) => (e ? reject(e) : resolve(r))),
      ).then(() => undefined, failure);
      assert.deepEqual(err, {
        code: INVALID_ARGUMENT,
        reason: 'INVALID_ARGUMENT',
        message: 'page_token is not one this broker issued',
      });
    });
  });

  describe('when used from the CLI', () => {
    it('should publish, fetch and print errors as "error: <REASON>: <message>" with exit code 1', async () => {
      const s = ['--server', broker.address];
      const one = await cli([...s, 'publish', 'cli.subject', 'hello', '--expiration', '60']);
      assert.deepEqual([one.code, one.stdout], [0, 'published cli.subject #1\n']);
      const lines = await cli([...s, '--json', 'publish', 'cli.subject'], 'a\nb\nc\n');
      assert.deepEqual(
        lines.stdout
          .trim()
          .split('\n')
          .map((l) => (JSON.parse(l) as { id: number }).id),
        [2, 3, 4],
      );
      const [fetched, missing, subjects] = await Promise.all([
        cli([...s, '--json', 'fetch', 'cli.subject', '1']),
        cli([...s, 'fetch', 'cli.subject', '9']),
        cli([...s, 'subjects', '--prefix', 'cli.']),
      ]);
      const m = JSON.parse(fetched.stdout) as { subject: string; id: number; body: string; expirationSeconds: number };
      assert.deepEqual([m.subject, m.id, m.body, m.expirationSeconds], ['cli.subject', 1, 'hello', 60]);
      assert.equal(missing.code, 1);
      assert.equal(
        missing.stderr,
        'error: INVALID_ID: id 9 was never published on subject "cli.subject": ids on this subject run from 1 to 4\n',
      );
      assert.match(subjects.stdout, /^cli\.subject {2}ids 1\.\.4 {2}4 msgs/);
    });

    it('should publish stdin in PublishBatch calls with --batch, printing every id in order', async () => {
      const s = ['--server', broker.address];
      const input = Array.from({ length: 25 }, (_, i) => `line ${i}`).join('\n') + '\n';
      const batched = await cli([...s, '--json', 'publish', 'cli.batched', '--batch', '10'], input);
      assert.equal(batched.code, 0, batched.stderr);
      assert.deepEqual(
        batched.stdout
          .trim()
          .split('\n')
          .map((l) => (JSON.parse(l) as { id: number }).id),
        Array.from({ length: 25 }, (_, i) => i + 1),
      );
      const last = JSON.parse((await cli([...s, '--json', 'fetch', 'cli.batched', '25'])).stdout) as { body: string };
      assert.equal(last.body, 'line 24');
    });
  });
});

describe('broker with a subscriber limit', () => {
  it('should refuse subscriptions past BROKER_MAX_SUBSCRIBERS with OVERLOADED and take them again once one goes', async () => {
    // One process: with workers each enforces its share of the total (api/e2e/worker-budgets.e2e.test.ts), and this
    // test's one connection reaches one worker.
    const broker = await startBrokerProcess({
      BROKER_MAX_SUBSCRIBERS: '2',
      BROKER_METRICS_PORT: '-1',
      BROKER_WORKERS: '1',
    });
    try {
      const first = await subscribe(broker.client(), 'limited');
      const second = await subscribe(broker.client(), 'limited');
      const refused = await subscribe(broker.client(), 'limited').then(() => undefined, failure);
      assert.deepEqual(refused, {
        code: 8,
        reason: 'OVERLOADED',
        message: 'this broker has 2 subscribers, its limit (BROKER_MAX_SUBSCRIBERS)',
      });
      const negative = await subscribe(broker.client(), 'limited', -1).then(() => undefined, failure);
      assert.deepEqual(negative, {
        code: INVALID_ARGUMENT,
        reason: 'INVALID_ARGUMENT',
        message: 'from_id must be >= 0 (0 = live only), got -1',
      });
      first.stream.cancel();
      const deadline = Date.now() + 5000;
      let again: Awaited<ReturnType<typeof subscribe>> | undefined;
      while (again === undefined && Date.now() < deadline)
        again = await subscribe(broker.client(), 'limited').catch(() => undefined);
      assert.ok(again !== undefined, 'a cancelled subscription frees its place');
      second.stream.cancel();
      again.stream.cancel();
    } finally {
      await broker.dispose();
    }
  });
});

describe('broker shutdown with publish streams open', () => {
  it('should acknowledge what it appended, end the streams with UNAVAILABLE, exit 0 and keep every acknowledged id', async () => {
    const broker = await startBrokerProcess();
    try {
      const call = broker.client().publishStream();
      const acks: number[] = [];
      call.on('data', (r: PublishResponse) => acks.push(r.id));
      const ended = new Promise<ReturnType<typeof failure> | 'end'>((resolve) => {
        call.on('error', (err) => resolve(failure(err)));
        call.on('end', () => resolve('end'));
      });
      for (let i = 0; i < 50; i++)
        call.write({ subject: 'shutdown.stream', body: Buffer.from(`m${i}`), expirationSeconds: 0 });
      while (acks.length < 50) await new Promise((r) => setTimeout(r, 10));
      // More requests in flight as the signal arrives: each is acknowledged or never appended.
      for (let i = 0; i < 500; i++)
        call.write({ subject: 'shutdown.stream', body: Buffer.from(`late${i}`), expirationSeconds: 0 });
      const unary = Array.from({ length: 200 }, () =>
        publish(broker.client(), 'shutdown.unary', 'x').then(
          (id) => id,
          () => undefined,
        ),
      );
      const code = await broker.stop('SIGTERM');
      const how = await ended;
      assert.equal(code, 0);
      assert.equal(typeof how === 'object' ? how.code : how, UNAVAILABLE);
      assert.deepEqual(
        acks,
        Array.from({ length: acks.length }, (_, i) => i + 1),
        'acks in request order',
      );
      const unaryAcked = (await Promise.all(unary)).filter((id): id is number => id !== undefined);
      const again = await broker.restart();
      try {
        const c = again.client();
        for (const id of acks) assert.equal((await fetchMessage(c, 'shutdown.stream', id)).id, id);
        for (const id of unaryAcked) assert.equal((await fetchMessage(c, 'shutdown.unary', id)).id, id);
      } finally {
        await again.dispose();
      }
    } finally {
      await broker.dispose();
    }
  });
});

describe('broker shutdown with BROKER_SHUTDOWN_TIMEOUT over 10 s', () => {
  it('should give an in-flight call the whole timeout, not a fixed 10 s, and exit 0 once it finishes', async () => {
    const broker = await startBrokerProcess({ BROKER_SHUTDOWN_TIMEOUT: '12s', BROKER_METRICS_PORT: '-1' });
    try {
      // A client that stops reading its acks: the broker's writes back up, so its appends stay in flight. (A stream
      // never read at all would not do: grpc-js then buffers every incoming message without flow control.)
      const call = broker.client().publishStream();
      const acks: number[] = [];
      call.on('data', (r: PublishResponse) => acks.push(r.id));
      call.pause();
      const ended = new Promise<ReturnType<typeof failure> | 'end'>((resolve) => {
        call.on('error', (err) => resolve(failure(err)));
        call.on('end', () => resolve('end'));
      });
      for (let i = 0; i < 20_000; i++)
        call.write({ subject: 'shutdown.slow', body: Buffer.from('x'), expirationSeconds: 0 });
      // The broker stalls once it owes more acks than the client's 64 KiB window holds: its appends stop growing while
      // the client still has requests to send, and the stream's last appends wait for a write that cannot go out.
      const appended = (): Promise<number> =>
        new Promise<number>((resolve, reject) =>
          broker.client().getSubject({ subject: 'shutdown.slow' }, (e, r) => (e ? reject(e) : resolve(r.count))),
        ).catch(() => 0);
      let last = -1;
      for (let count = await appended(); count !== last || count === 0; count = await appended()) {
        assert.ok(count < 20_000, 'the broker stalled before taking every request');
        last = count;
        await new Promise((r) => setTimeout(r, 1000));
      }
      const exited = broker.stop('SIGTERM');
      await new Promise((r) => setTimeout(r, 10_500));
      assert.equal(broker.child.exitCode, null, 'still draining 10.5 s after SIGTERM, within its 12 s');
      call.resume();
      assert.equal(await exited, 0);
      const how = await ended;
      assert.equal(typeof how === 'object' ? how.code : how, UNAVAILABLE);
      assert.ok(acks.length > 0);
      assert.deepEqual(
        acks,
        Array.from({ length: acks.length }, (_, i) => i + 1),
        'every append in flight was acknowledged, in request order',
      );
    } finally {
      await broker.dispose();
    }
  });
});
