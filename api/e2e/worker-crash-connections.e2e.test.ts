import { Metadata, credentials, status } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BrokerClient } from '../../proto/gen/broker.js';
import { startBrokerProcess } from '../test-support/broker-process.js';

const WORKERS = 2;
/** New connections opened at the moment a worker dies: some land in the window before the primary sees its exit. */
const CONNECTIONS = 60;
/** A call is answered, or its connection refused or reset, long before this; past it the connection was lost. */
const ANSWER_WITHIN_MS = 8_000;

function getSubject(client: BrokerClient, subject: string): Promise<number> {
  return new Promise((resolve) =>
    client.getSubject({ subject }, new Metadata(), { deadline: Date.now() + ANSWER_WITHIN_MS }, (err) =>
      resolve(err === null ? status.OK : err.code),
    ),
  );
}

describe('a broker of 2 workers whose worker is SIGKILLed while clients connect', () => {
  it(
    'answers or closes every new connection: none is left open with nobody serving it',
    { timeout: 90_000 },
    async () => {
      const broker = await startBrokerProcess({ BROKER_WORKERS: String(WORKERS) });
      const clients: BrokerClient[] = [];
      try {
        for (let round = 0; round < 3; round++) {
          const victim = broker.workerPids().get(round % WORKERS) as number;
          process.kill(victim, 'SIGKILL');
          const calls: Promise<number>[] = [];
          for (let i = 0; i < CONNECTIONS; i++) {
            const client = new BrokerClient(broker.address, credentials.createInsecure(), {
              'grpc.use_local_subchannel_pool': 1,
            });
            clients.push(client);
            calls.push(getSubject(client, `crash.s${i}`));
          }
          const codes = await Promise.all(calls);
          const hung = codes.filter((c) => c === status.DEADLINE_EXCEEDED).length;
          assert.equal(hung, 0, `round ${round}: ${hung} of ${CONNECTIONS} calls on new connections got no answer`);
          const deadline = Date.now() + 30_000;
          while (broker.workerPids().get(round % WORKERS) === victim && Date.now() < deadline)
            await new Promise((r) => setTimeout(r, 100));
          await new Promise((r) => setTimeout(r, 500));
        }
      } finally {
        for (const c of clients) c.close();
        await broker.dispose();
      }
    },
  );
});
