// An unexpected failure inside the broker: the client gets a reason and a generic message with a correlation id, the
// broker log gets the detail under the same id. Real gRPC over loopback, a real LevelDB log whose reads are scripted.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DataLossError, InvariantError, type LogReader } from '../../core/index.js';
import { tempLog } from '../../log/test-support/temp-log.js';
import type { FetchRequest, MessageResponse } from '../../proto/gen/broker.js';
import { failure } from '../test-support/broker-process.js';
import { serveInProcess } from '../test-support/in-process-service.js';

const SECRET_PATH = '/var/lib/broker/data/000123.ldb';

describe('the error mapping (status.ts)', () => {
  let ctx: Awaited<ReturnType<typeof tempLog>>;
  let served: Awaited<ReturnType<typeof serveInProcess>>;
  let thrown: unknown;

  before(async () => {
    ctx = await tempLog();
    await ctx.log.append({ subject: 'kept', body: Buffer.from('x'), expirationSeconds: 0 });
    const log = ctx.log;
    const reader: LogReader = {
      get: async () => {
        throw thrown;
      },
      readRange: (s, f, l) => log.readRange(s, f, l),
      tail: (s, f) => log.tail(s, f),
      subjectInfo: (s) => log.subjectInfo(s),
      listSubjects: (q) => log.listSubjects(q),
    };
    served = await serveInProcess({ writer: log, reader });
  });
  after(async () => {
    served.close();
    await ctx.dispose();
  });

  const fetch = (req: FetchRequest): Promise<ReturnType<typeof failure>> =>
    new Promise((resolve, reject) =>
      served.client.fetch(req, (err: unknown, res?: MessageResponse) =>
        err === null ? reject(new Error(`answered ${JSON.stringify(res)}`)) : resolve(failure(err)),
      ),
    );

  for (const [kind, make] of [
    ['an Error that is not a BrokerError', () => new Error(`EIO: i/o error, read '${SECRET_PATH}'`)],
    ['a broken invariant (InvariantError)', () => new InvariantError(`segment file ${SECRET_PATH} out of order`)],
  ] as const) {
    describe(`when a read fails with ${kind} naming a file`, () => {
      it('should answer INTERNAL with a generic message and log the detail under the same id', async () => {
        thrown = make();
        served.lines.length = 0;
        const got = await fetch({ subject: 'kept', id: 1 });
        assert.equal(got.code, 13);
        assert.equal(got.reason, 'INTERNAL');
        assert.ok(!got.message.includes(SECRET_PATH), got.message);
        const id = /^internal error; see the broker log, id ([0-9a-f-]{36})$/.exec(got.message)?.[1];
        assert.ok(id !== undefined, got.message);
        const line = served.lines.find((l) => l['errorId'] === id);
        assert.ok(line !== undefined, JSON.stringify(served.lines));
        assert.equal(line['level'], 50);
        const err = line['err'] as { message: string; stack: string };
        assert.ok(err.message.includes(SECRET_PATH));
        assert.ok(err.stack.length > 0);
      });
    });
  }

  describe('when the failure is a BrokerError meant for the client', () => {
    it('should keep its message and log nothing', async () => {
      thrown = new DataLossError('kept', 1, 'its stored record failed its checksum (CRC32C); it is not served');
      served.lines.length = 0;
      const got = await fetch({ subject: 'kept', id: 1 });
      assert.equal(got.reason, 'DATA_LOSS');
      assert.equal(got.message, (thrown as DataLossError).message);
      assert.equal(served.lines.length, 0);
    });
  });
});
