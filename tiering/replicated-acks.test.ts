import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { UnavailableError, type Log, type LogReader, type LogRecord } from '../core/index.js';
import { MemoryIdReservations } from '../cluster/index.js';
import type { LogOptions } from '../log/index.js';
import { tempLog } from '../log/test-support/temp-log.js';
import { MemoryColdStore } from './test-support/memory-cold-store.js';
import { createTieredReader } from './tiered-reader.js';

const HOUR_MS = 3_600_000;
const ALL = { maxRecords: 100_000, maxBytes: 1 << 30 };
const text = (r: LogRecord): string => Buffer.from(r.body).toString();

/** A log with acks replicated to `cold`, id reservations in memory, segments of 10 (so commits span rolls). */
function replicatedLog(cold: MemoryColdStore, more: Partial<LogOptions> = {}) {
  return tempLog({
    segmentMaxRecords: 10,
    idReservations: new MemoryIdReservations(),
    idReservationChunk: 50,
    replica: { store: cold, retentionMs: HOUR_MS },
    writeRetry: { firstMs: 20, maxMs: 40 },
    ...more,
  });
}

/**
 * Publishes `n` records to each subject in waves of `wave`, each wave concurrently (many appends per group commit);
 * resolves with the acked ids. Bodies "<subject>-<i>", i from 0, in publish order (so id = i + 1).
 */
async function publish(log: Log, subjects: readonly string[], n: number, wave = 12): Promise<Map<string, number[]>> {
  const acked = new Map<string, number[]>(subjects.map((s) => [s, []]));
  for (let from = 0; from < n; from += wave) {
    await Promise.all(
      subjects.flatMap((subject) =>
        Array.from({ length: Math.min(wave, n - from) }, async (_, k) => {
          const body = Buffer.from(`${subject}-${from + k}`);
          const id = await log.append({ subject, body, expirationSeconds: 0 });
          acked.get(subject)?.push(id);
        }),
      ),
    );
  }
  return acked;
}

async function replay(reader: LogReader, subject: string, count: number): Promise<LogRecord[]> {
  const cursor = await reader.tail(subject, 1);
  const seen: LogRecord[] = [];
  try {
    while (seen.length < count) seen.push(...(await cursor.next(7)));
  } finally {
    cursor.close();
  }
  return seen;
}

describe('BROKER_ACKS=replicated (the log writes every group commit to the cold tier before acknowledging it)', () => {
  describe('when the data dir is wiped after the acks', () => {
    it('should serve every acked id with its body from the cold tier: get, range reads and subscribe replays', async () => {
      const cold = new MemoryColdStore();
      const ctx = await replicatedLog(cold);
      try {
        const acked = await publish(ctx.log, ['a', 'b'], 35);
        assert.ok(cold.commits.length > 1, 'more than one group commit');
        await rm(ctx.dir, { recursive: true, force: true });
        const tiered = createTieredReader(await ctx.reopen(), cold);
        for (const [subject, ids] of acked) {
          assert.equal(ids.length, 35);
          for (const id of ids) {
            const found = await tiered.get(subject, id);
            assert.ok(found.kind === 'record', `${subject}@${id}: ${found.kind}`);
            assert.equal(text(found.record), `${subject}-${id - 1}`);
          }
          const sorted = [...ids].sort((x, y) => x - y);
          assert.deepEqual(
            (await tiered.readRange(subject, 1, ALL)).map((r) => r.offset),
            sorted,
            'FetchRange from 1',
          );
          const replayed = await replay(tiered, subject, ids.length);
          assert.deepEqual(
            replayed.map((r) => r.offset),
            sorted,
            'a Subscribe replay from 1',
          );
          assert.deepEqual(
            replayed.map(text),
            sorted.map((id) => `${subject}-${id - 1}`),
          );
        }
        const next = await ctx.log.append({ subject: 'a', body: Buffer.from('after'), expirationSeconds: 0 });
        assert.ok(next > 35, `ids continue above every acked one (${next})`);
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when the cold tier refuses a commit', () => {
    it('should refuse its appends UNAVAILABLE (none acked), fail closed, and replicate again once recovered', async () => {
      const cold = new MemoryColdStore();
      const ctx = await replicatedLog(cold);
      const append = (i: number): Promise<number> =>
        ctx.log.append({ subject: 's', body: Buffer.from(`s-${i}`), expirationSeconds: 0 });
      try {
        assert.equal(await append(0), 1);
        cold.failNextCommits = 1;
        const results = await Promise.allSettled([append(1), append(2), append(3)]);
        assert.ok(
          results.every((r) => r.status === 'rejected' && r.reason instanceof UnavailableError),
          'every append of the failed commit refused UNAVAILABLE',
        );
        await assert.rejects(append(4), UnavailableError, 'refused while the log recovers');
        let next: number | undefined;
        for (let i = 0; i < 200 && next === undefined; i++) {
          next = await append(5).catch(() => undefined);
          if (next === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
        }
        assert.ok(next !== undefined, 'appends go on after the recovery');
        const found = await cold.get('s', next);
        assert.equal(found === undefined ? undefined : text(found), 's-5', 'the acked record is in the cold tier');
      } finally {
        await ctx.dispose();
      }
    });
  });
});
