import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { failure, publish, startBrokerProcess, type BrokerProcess } from '../test-support/broker-process.js';

const LIMIT = 100;
const IDLE = 300;
const HANDSHAKE_MS = 2000;

async function openFds(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

/** Opens `n` sockets that never send a byte; each settles once connected (or refused). */
async function idleSockets(address: string, n: number): Promise<net.Socket[]> {
  const [host, port] = address.split(':');
  const sockets: net.Socket[] = [];
  await Promise.all(
    Array.from({ length: n }, () => {
      const socket = net.connect(Number(port), host);
      socket.on('error', () => undefined);
      sockets.push(socket);
      return new Promise<void>((resolve) => {
        socket.once('connect', () => resolve());
        socket.once('close', () => resolve());
      });
    }),
  );
  return sockets;
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await sleep(50);
  }
  return check();
}

describe('connection limits (e2e)', () => {
  let broker: BrokerProcess;
  let pid: number;

  before(async () => {
    broker = await startBrokerProcess({
      BROKER_MAX_CONNECTIONS: String(LIMIT),
      BROKER_HANDSHAKE_TIMEOUT: `${HANDSHAKE_MS}ms`,
    });
    pid = broker.child.pid ?? assert.fail('no pid');
  });
  after(() => broker.dispose());

  it(`serves a real client while ${IDLE} silent sockets press on BROKER_MAX_CONNECTIONS=${LIMIT}; fds stay bounded; silent sockets are closed by the handshake timeout`, async () => {
    // The first publish to a subject creates its partition's LevelDB (its files stay open): done before the baseline,
    // by a client of its own (its connection stays open, in the baseline).
    assert.equal(await publish(broker.client(), 'orders', 'first'), 1);
    const baseline = await openFds(pid);
    const sockets = await idleSockets(broker.address, IDLE);
    await sleep(200);
    const during = await openFds(pid);
    // Measured before the fix: every one of the 300 sockets held a descriptor in the broker, for ever.
    assert.ok(during - baseline <= LIMIT + 5, `broker fds grew by ${during - baseline} with ${IDLE} idle sockets`);

    const client = broker.client();
    const started = Date.now();
    assert.equal(await publish(client, 'orders', 'served'), 2);
    assert.ok(Date.now() - started < HANDSHAKE_MS, 'the real client waited for the idle sockets to time out');

    const closed = (): boolean => sockets.every((s) => s.destroyed || s.readableEnded);
    assert.ok(await until(closed, HANDSHAKE_MS + 3000), 'silent sockets were still open after the handshake timeout');
    const afterwards = await openFds(pid);
    assert.ok(afterwards - baseline <= 5, `broker fds still ${afterwards - baseline} above the baseline`);
    assert.equal(await publish(client, 'orders', 'still served'), 3);
    for (const s of sockets) s.destroy();
  });

  it('closes a connection that sends something other than the HTTP/2 preface', async () => {
    const [socket] = await idleSockets(broker.address, 1);
    assert.ok(socket);
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.ok(await until(() => socket.destroyed || socket.readableEnded, 2000));
    // and a real client is unaffected
    await publish(broker.client(), 'orders', 'after garbage').catch((err: unknown) =>
      assert.fail(failure(err).message),
    );
  });
});
