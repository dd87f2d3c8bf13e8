// How many event-loop turns a Subscribe stream needs to deliver a backlog: real gRPC over loopback, a real LevelDB log.
// Counted in the turns deliveries arrived in, not time, so a loaded machine does not change the verdict.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { tempLog } from '../../log/test-support/temp-log.js';
import { serveInProcess } from '../test-support/in-process-service.js';

const RECORDS = 600;

/** Numbers the loop's turns (check phases) until stop() is called. */
function turnCounter(): { readonly turn: number; stop(): void } {
  const counter = { turn: 0, running: true };
  const tick = (): void => {
    counter.turn += 1;
    if (counter.running) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    get turn() {
      return counter.turn;
    },
    stop() {
      counter.running = false;
    },
  };
}

describe('Subscribe streams write in batches', () => {
  let ctx: Awaited<ReturnType<typeof tempLog>>;
  let served: Awaited<ReturnType<typeof serveInProcess>>;

  before(async () => {
    ctx = await tempLog();
    for (let i = 0; i < RECORDS; i++)
      await ctx.log.append({ subject: 'backlog', body: Buffer.from(`m${i}`), expirationSeconds: 0 });
    served = await serveInProcess({ writer: ctx.log, reader: ctx.log });
  });
  after(async () => {
    served.close();
    await ctx.dispose();
  });

  // grpc-js hands its HTTP/2 stream one message at a time and Node completes each write a turn later: one message
  // per stream per turn, so a busy broker (long turns) delivered and acknowledged no faster than its turns went.
  it('should deliver a backlog in far fewer loop turns than messages, every record once and in order', async () => {
    const turns = turnCounter();
    const ids: number[] = [];
    /** The turns in which deliveries arrived: one per message when each is its own HTTP/2 write. */
    const arrivals = new Set<number>();
    const sub = served.client.subscribe({ subject: 'backlog', fromId: 1 });
    await new Promise<void>((resolve, reject) => {
      sub.on('data', (m: { id: number }) => {
        ids.push(m.id);
        arrivals.add(turns.turn);
        if (ids.length === RECORDS) resolve();
      });
      sub.on('error', reject);
    });
    turns.stop();
    sub.cancel();
    assert.deepEqual(
      ids,
      Array.from({ length: RECORDS }, (_, i) => i + 1),
    );
    assert.ok(arrivals.size < RECORDS / 4, `deliveries arrived in ${arrivals.size} loop turns for ${RECORDS}`);
  });
});
