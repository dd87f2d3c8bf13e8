import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import type { ColdStore, Log, LogReader, LogRecord } from '../../core/index.js';
import { MemoryIdReservations } from '../../cluster/index.js';
import type { LogOptions } from '../../log/index.js';
import { tempLog } from '../../log/test-support/temp-log.js';
import { createTieredReader } from '../tiered-reader.js';

const ALL = { maxRecords: 100_000, maxBytes: 1 << 30 };
export const text = (r: LogRecord): string => Buffer.from(r.body).toString('latin1').split('|')[0] ?? '';

/** A log with acks replicated to `cold`, id reservations in memory, segments of 10 (so commits span rolls). */
export function replicatedLog(cold: ColdStore, more: Partial<LogOptions> = {}) {
  return tempLog({
    segmentMaxRecords: 10,
    idReservations: new MemoryIdReservations(),
    idReservationChunk: 50,
    replica: { store: cold, retentionMs: 3_600_000 },
    writeRetry: { firstMs: 20, maxMs: 40 },
    ...more,
  });
}

/**
 * Publishes `n` records to each subject in waves of `wave`, each wave concurrently (many appends per group commit);
 * resolves with the acked ids. Bodies "<subject>-<i>" (padded with "|" to `bodyBytes`), i from 0 in publish order,
 * so id = i + 1.
 */
export async function publish(
  log: Log,
  subjects: readonly string[],
  n: number,
  { wave = 12, bodyBytes = 0 } = {},
): Promise<Map<string, number[]>> {
  const acked = new Map<string, number[]>(subjects.map((s) => [s, []]));
  for (let from = 0; from < n; from += wave) {
    await Promise.all(
      subjects.flatMap((subject) =>
        Array.from({ length: Math.min(wave, n - from) }, async (_, k) => {
          const body = Buffer.from(`${subject}-${from + k}`.padEnd(bodyBytes, '|'), 'latin1');
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

/**
 * Acks replicated, then the data dir wiped and the log reopened on it: every acked id is served with its body
 * through the tiered reader (Fetch, FetchRange and a Subscribe replay from 1), and ids continue above them.
 */
export async function wipedDiskScenario(cold: ColdStore, n: number, bodyBytes = 0): Promise<void> {
  const ctx = await replicatedLog(cold);
  try {
    const acked = await publish(ctx.log, ['a', 'b'], n, { bodyBytes });
    await rm(ctx.dir, { recursive: true, force: true });
    const tiered = createTieredReader(await ctx.reopen(), cold);
    for (const [subject, ids] of acked) {
      assert.equal(ids.length, n);
      for (const id of ids) {
        const found = await tiered.get(subject, id);
        assert.ok(found.kind === 'record', `${subject}@${id}: ${found.kind}`);
        assert.equal(text(found.record), `${subject}-${id - 1}`);
      }
      const sorted = [...ids].sort((x, y) => x - y);
      const bodies = sorted.map((id) => `${subject}-${id - 1}`);
      assert.deepEqual((await tiered.readRange(subject, 1, ALL)).map(text), bodies, 'FetchRange from 1');
      assert.deepEqual((await replay(tiered, subject, n)).map(text), bodies, 'a Subscribe replay from 1');
    }
    const next = await ctx.log.append({ subject: 'a', body: Buffer.from('after'), expirationSeconds: 0 });
    assert.ok(next > n, `ids continue above every acked one (${next})`);
  } finally {
    await ctx.dispose();
  }
}
