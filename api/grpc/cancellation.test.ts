// Unary calls a client abandoned (deadline passed, or cancelled) stop reading: real gRPC over loopback, a real LevelDB
// log behind a reader that reads a large page in batches as slowly as a busy disk and counts them.
import { Metadata } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LogReader, LogRecord, ReadLimits } from '../../core/index.js';
import { tempLog } from '../../log/test-support/temp-log.js';
import { serveInProcess } from '../test-support/in-process-service.js';

const RECORDS = 2000;
const BATCH = 50;
const BATCH_DELAY_MS = 20;

describe('BrokerService cancellation', () => {
  let ctx: Awaited<ReturnType<typeof tempLog>>;
  let served: Awaited<ReturnType<typeof serveInProcess>>;
  const reads = { batches: 0, done: 0 };
  let listSignal: AbortSignal | undefined;

  before(async () => {
    ctx = await tempLog();
    const log = ctx.log;
    for (let i = 0; i < RECORDS; i++)
      await log.append({ subject: 'big', body: Buffer.from('x'), expirationSeconds: 0 });
    // The real log's pages, one batch at a time with a pause each, honouring the signal between batches as the log
    // and the tiered reader do.
    const readRange = async (subject: string, from: number, limits: ReadLimits): Promise<LogRecord[]> => {
      const out: LogRecord[] = [];
      while (out.length < limits.maxRecords && limits.signal?.aborted !== true) {
        const batch = await log.readRange(subject, from + out.length, { maxRecords: BATCH, maxBytes: 1 << 30 });
        reads.batches += 1;
        if (batch.length === 0) break;
        out.push(...batch);
        await new Promise((r) => setTimeout(r, BATCH_DELAY_MS));
      }
      reads.done += 1;
      return out;
    };
    const reader: LogReader = {
      get: (s, o) => log.get(s, o),
      readRange,
      tail: (s, f) => log.tail(s, f),
      subjectInfo: (s) => log.subjectInfo(s),
      listSubjects: async (q) => {
        await new Promise((r) => setTimeout(r, 300));
        listSignal = q.signal;
        return log.listSubjects(q);
      },
    };
    served = await serveInProcess({ writer: log, reader });
  });
  after(async () => {
    served.close();
    await ctx.dispose();
  });

  describe('when a FetchRange over a large page passes its deadline', () => {
    it('should stop reading at the next batch instead of reading the whole page', async () => {
      const deadline = Date.now() + 150;
      const code = await new Promise<number>((resolve) =>
        served.client.fetchRange(
          { subject: 'big', fromId: 1, maxMessages: RECORDS, maxBytes: 0 },
          new Metadata(),
          { deadline },
          (err) => resolve(err?.code ?? 0),
        ),
      );
      assert.equal(code, 4, 'DEADLINE_EXCEEDED');
      const started = Date.now();
      while (reads.done === 0 && Date.now() - started < 5000) await new Promise((r) => setTimeout(r, 10));
      // The whole page is RECORDS / BATCH = 40 batches (800 ms); the deadline allows about 8.
      assert.equal(reads.done, 1);
      assert.ok(reads.batches < 15, `read ${reads.batches} batches of ${RECORDS / BATCH}`);
    });
  });

  describe('when a ListSubjects passes its deadline', () => {
    it('should hand the reader a signal that is aborted', async () => {
      const code = await new Promise<number>((resolve) =>
        served.client.listSubjects(
          { prefix: '', pageSize: 10, pageToken: '' },
          new Metadata(),
          { deadline: Date.now() + 100 },
          (err) => resolve(err?.code ?? 0),
        ),
      );
      assert.equal(code, 4, 'DEADLINE_EXCEEDED');
      const started = Date.now();
      while (listSignal === undefined && Date.now() - started < 2000) await new Promise((r) => setTimeout(r, 10));
      assert.equal(listSignal?.aborted, true);
    });
  });
});
