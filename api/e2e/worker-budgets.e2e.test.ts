import { credentials } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BrokerClient } from '../../proto/gen/broker.js';
import { failure, startBrokerProcess, subscribe, type BrokerProcess } from '../test-support/broker-process.js';

const RESOURCE_EXHAUSTED = 8;
const LIMIT = 4;

/** A client on a connection of its own: node:cluster hands each new connection to the next worker in turn. */
function ownConnection(address: string): BrokerClient {
  return new BrokerClient(address, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
}

describe('a broker of 2 workers with a total limit (api/workers/worker-budgets.ts)', () => {
  let broker: BrokerProcess;
  const clients: BrokerClient[] = [];
  before(async () => {
    broker = await startBrokerProcess({ BROKER_WORKERS: '2', BROKER_MAX_SUBSCRIBERS: String(LIMIT) });
  });
  after(async () => {
    for (const c of clients) c.close();
    await broker.dispose();
  });

  describe('when more subscribers than BROKER_MAX_SUBSCRIBERS come, spread over both workers', () => {
    it('should refuse them at the total, not at the total per worker', async () => {
      const outcomes: Array<'open' | string> = [];
      const streams: Array<Awaited<ReturnType<typeof subscribe>>> = [];
      for (let i = 0; i < LIMIT + 2; i++) {
        const client = ownConnection(broker.address);
        clients.push(client);
        try {
          streams.push(await subscribe(client, `budgets.s${i}`));
          outcomes.push('open');
        } catch (err) {
          const { code, message } = failure(err);
          assert.equal(code, RESOURCE_EXHAUSTED, message);
          assert.match(message, /BROKER_MAX_SUBSCRIBERS/);
          outcomes.push(message);
        }
      }
      const open = outcomes.filter((o) => o === 'open').length;
      // Round-robin gives each worker 3 of the 6 connections: 2 open on each (its half of the 4), 1 refused.
      assert.equal(open, LIMIT, `open: ${open} of ${outcomes.length} (${outcomes.join('; ')})`);
      for (const s of streams) s.stream.cancel();
    });
  });
});
