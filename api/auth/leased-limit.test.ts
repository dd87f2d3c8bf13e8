import assert from 'node:assert/strict';
import { setImmediate as turn } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { ASKING_RETRY_MS, LEASE_TTL_MS, LeasedLimit, type LeaseChannel } from './leased-limit.js';
import { QuotaLedger } from './quota-ledger.js';

/** Two workers' limits of one quota over one ledger (the primary's), on one clock; the IPC hop is a call here. */
function setup(rate: { messagesPerSecond?: number; bytesPerSecond?: number }) {
  const clock = { now: 0 };
  const now = (): number => clock.now;
  const ledger = new QuotaLedger(now);
  let asks = 0;
  const channel: LeaseChannel = {
    ask: async (request) => {
      asks += 1;
      return ledger.lease({ type: 'broker:quota-lease', id: asks, ...request });
    },
  };
  const workers = [0, 1].map(() => new LeasedLimit('capped/publish', rate, channel, now));
  return { clock, workers, asks: () => asks };
}

/** Takes single messages on every worker until none fits, leasing as a worker does; how many were admitted. */
async function takeAll(workers: LeasedLimit[], bytes = 1): Promise<number> {
  let admitted = 0;
  for (let progress = true; progress;) {
    progress = false;
    for (const worker of workers) {
      await worker.prepare();
      while (worker.tryTake(1, bytes) === 0) {
        admitted += 1;
        progress = true;
      }
      await turn();
    }
  }
  return admitted;
}

describe('LeasedLimit over a QuotaLedger', () => {
  describe('when two workers take from one quota', () => {
    it('should admit one burst and then the rate over both together', async () => {
      const { clock, workers, asks } = setup({ messagesPerSecond: 100 });
      assert.equal(await takeAll(workers), 100);
      clock.now = 500;
      assert.equal(await takeAll(workers), 50);
      // Leases of a tenth of a second's worth: a few asks per chunk, not one per message.
      assert.ok(asks() <= 40, `${asks()} asks for 150 messages`);
    });

    it("should refuse with the primary's retry delay once the quota is spent", async () => {
      const { workers } = setup({ messagesPerSecond: 20 });
      await takeAll(workers);
      const [a] = workers;
      assert.ok(a !== undefined);
      await a.prepare();
      assert.equal(a.tryTake(1, 1), 50);
    });
  });

  it('should let tokens not taken expire, leaving them to the other workers', async () => {
    const { clock, workers } = setup({ messagesPerSecond: 10 });
    const [a, b] = workers;
    assert.ok(a !== undefined && b !== undefined);
    await a.prepare();
    assert.equal(a.tryTake(1, 1), 0);
    await turn();
    clock.now = 1_000 + LEASE_TTL_MS;
    // a's leftover is gone; the ledger's bucket refilled to one burst for whoever asks.
    assert.equal(await takeAll([b]), 10);
    assert.notEqual(a.tryTake(1, 1), 0);
  });

  it('should pace a debt: whenRoom wakes once the leases have paid it off', async () => {
    const { clock, workers } = setup({ bytesPerSecond: 1_000 });
    const [a] = workers;
    assert.ok(a !== undefined);
    // A message above the burst: refused while its lease is asked for, then admitted (a burst is there), in debt.
    await a.prepare();
    assert.equal(a.tryTake(1, 1_200), ASKING_RETRY_MS);
    await turn();
    assert.equal(a.tryTake(1, 1_200), 0);
    let woke = false;
    a.whenRoom(() => (woke = true));
    await turn();
    assert.equal(woke, false);
    // The primary said 201 ms (the 200 bytes of debt and one more); the ledger's clock has moved on by then.
    clock.now = 300;
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(woke, true);
  });
});
