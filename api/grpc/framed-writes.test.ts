// How many HTTP/2 stream writes a Subscribe stream makes for a backlog: real gRPC over loopback, a real LevelDB log.
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { tempLog } from '../../log/test-support/temp-log.js';
import { serveInProcess } from '../test-support/in-process-service.js';

const RECORDS = 600;

/** Counts writes to the server's HTTP/2 streams (node:http2's ServerHttp2Stream) until stop() is called. */
function countServerStreamWrites(): { readonly writes: number; stop(): void } {
  const original = Duplex.prototype.write;
  const counter = { writes: 0 };
  Duplex.prototype.write = function (this: Duplex, ...args: Parameters<Duplex['write']>) {
    if (this.constructor.name === 'ServerHttp2Stream') counter.writes += 1;
    return original.apply(this, args);
  } as Duplex['write'];
  return {
    get writes() {
      return counter.writes;
    },
    stop() {
      Duplex.prototype.write = original;
    },
  };
}

describe('Subscribe streams write framed batches to the HTTP/2 stream', () => {
  let ctx: Awaited<ReturnType<typeof tempLog>>;
  let served: Awaited<ReturnType<typeof serveInProcess>>;

  before(async () => {
    ctx = await tempLog();
    for (let i = 0; i < RECORDS; i++)
      await ctx.log.append({ subject: 'framed', body: Buffer.from(`m${i}`), expirationSeconds: 0 });
    served = await serveInProcess({ writer: ctx.log, reader: ctx.log });
  });
  after(async () => {
    served.close();
    await ctx.dispose();
  });

  // grpc-js writes each message to the HTTP/2 stream on its own (a framed copy, a native write, a callback each):
  // most of a delivery's CPU in a 1,000-subscriber fan-out. A pump's frames go as one write instead.
  it('should deliver a backlog intact and in order in far fewer HTTP/2 writes than messages', async () => {
    const counter = countServerStreamWrites();
    const received: Array<{ id: number; body: string; subject: string }> = [];
    const sub = served.client.subscribe({ subject: 'framed', fromId: 1 });
    try {
      await new Promise<void>((resolve, reject) => {
        sub.on('data', (m: { id: number; body: Buffer; subject: string }) => {
          received.push({ id: m.id, body: m.body.toString(), subject: m.subject });
          if (received.length === RECORDS) resolve();
        });
        sub.on('error', reject);
      });
    } finally {
      counter.stop();
      sub.cancel();
    }
    const expected = Array.from({ length: RECORDS }, (_, i) => ({ id: i + 1, body: `m${i}`, subject: 'framed' }));
    assert.deepEqual(received, expected);
    assert.ok(counter.writes < RECORDS / 8, `${counter.writes} HTTP/2 stream writes for ${RECORDS} messages`);
  });
});
