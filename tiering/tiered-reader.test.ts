import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LogReader, LogRecord } from '../core/index.js';
import { rm } from 'node:fs/promises';
import { MemoryIdReservations } from '../cluster/index.js';
import type { LogOptions } from '../log/index.js';
import { tempLog } from '../log/test-support/temp-log.js';
import { MemoryColdStore } from './test-support/memory-cold-store.js';
import { createTieredReader } from './tiered-reader.js';

/** A subject of `n` records (bodies "m<offset>") in segments of 10, the first `coldSegments` copied and dropped locally. */
async function setUp(
  n: number,
  coldSegments: number,
  bodies: (offset: number) => Buffer = (o) => Buffer.from(`m${o}`),
  options: Partial<LogOptions> = {},
) {
  const ctx = await tempLog({ segmentMaxRecords: 10, ...options });
  const cold = new MemoryColdStore();
  for (let o = 1; o <= n; o++) await ctx.log.append({ subject: 's', body: bodies(o), expirationSeconds: 0 });
  if (n % 10 === 0) await ctx.log.sealStaleSegments(Date.now() + 24 * 3_600_000);
  for (const segment of (await ctx.log.segments('s')).slice(0, coldSegments)) {
    await cold.writeSegment(segment, ctx.log.readSegment({ subject: 's', baseOffset: segment.baseOffset }), 0);
    await ctx.log.markReplicated({ subject: 's', baseOffset: segment.baseOffset });
    await ctx.log.deleteSegment({ subject: 's', baseOffset: segment.baseOffset });
  }
  return { ctx, cold, tiered: createTieredReader(ctx.log, cold) };
}

const ids = (records: readonly LogRecord[]): number[] => records.map((r) => r.offset);
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

async function drain(log: LogReader, from: number, count: number, maxRecords?: number): Promise<number[]> {
  const cursor = await log.tail('s', from);
  const seen: number[] = [];
  try {
    while (seen.length < count) seen.push(...ids(await cursor.next(maxRecords)));
  } finally {
    cursor.close();
  }
  return seen;
}

describe('createTieredReader', () => {
  describe('when the local log reports an id lost (its disk was wiped, or its partition taken over)', () => {
    it('should serve it from the cold store when the cold store has it, and keep it lost when not', async () => {
      const reservations = new MemoryIdReservations();
      const { ctx, cold } = await setUp(20, 1, undefined, { idReservations: reservations, idReservationChunk: 5 });
      try {
        await rm(ctx.dir, { recursive: true, force: true });
        const log = await ctx.reopen();
        const tiered = createTieredReader(log, cold);
        assert.equal((await log.get('s', 7)).kind, 'lost');
        const found = await tiered.get('s', 7);
        assert.ok(found.kind === 'record' && Buffer.from(found.record.body).toString() === 'm7');
        // Never replicated: gone with the disk, and said so.
        assert.equal((await tiered.get('s', 15)).kind, 'lost');
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when an offset exists only in the cold store', () => {
    it('should return it from get(), and keep removed what the cold store lacks', async () => {
      const { ctx, cold, tiered } = await setUp(30, 2);
      try {
        assert.equal((await ctx.log.get('s', 7)).kind, 'removed');
        const found = await tiered.get('s', 7);
        assert.ok(found.kind === 'record' && Buffer.from(found.record.body).toString() === 'm7');
        cold.deleteRow('s', 8);
        assert.deepEqual(await tiered.get('s', 8), { kind: 'removed', firstOffset: 21 });
        assert.equal((await tiered.get('s', 25)).kind, 'record');
        assert.equal((await tiered.get('s', 31)).kind, 'never');
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when readRange() starts below the local first offset', () => {
    it('should read the cold part, then the local part, with no gap or duplicate', async () => {
      const { ctx, tiered } = await setUp(30, 2);
      try {
        assert.deepEqual(ids(await tiered.readRange('s', 15, { maxRecords: 10, maxBytes: 1 << 20 })), range(15, 24));
        assert.deepEqual(ids(await tiered.readRange('s', 1, { maxRecords: 100, maxBytes: 1 << 20 })), range(1, 30));
        assert.deepEqual(ids(await tiered.readRange('s', 1, { maxRecords: 5, maxBytes: 1 << 20 })), range(1, 5));
        assert.deepEqual(
          ids(await tiered.readRange('s', 22, { maxRecords: 5, maxBytes: 1 << 20 })),
          range(22, 26),
          'local only',
        );
      } finally {
        await ctx.dispose();
      }
    });

    it('should stop at the byte limit in the cold part rather than skip to a smaller local record', async () => {
      const { ctx, tiered } = await setUp(30, 2, (o) => Buffer.alloc(o <= 20 ? 60 : 10));
      try {
        assert.deepEqual(ids(await tiered.readRange('s', 19, { maxRecords: 10, maxBytes: 100 })), [19]);
        assert.deepEqual(ids(await tiered.readRange('s', 20, { maxRecords: 10, maxBytes: 100 })), [20, 21, 22, 23, 24]);
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when tail() starts below the local first offset', () => {
    it('should replay from the cold store, then local, then live, in order', async () => {
      const { ctx, tiered } = await setUp(30, 2);
      try {
        assert.deepEqual(await drain(tiered, 3, 28, 4), range(3, 30));
        const cursor = await tiered.tail('s', 18);
        const first = await cursor.next();
        assert.deepEqual(ids(first), range(18, 20));
        assert.equal(cursor.position, 21);
        assert.deepEqual(ids(await cursor.next()), range(21, 30));
        const live = cursor.next();
        await ctx.log.append({ subject: 's', body: Buffer.from('new'), expirationSeconds: 0 });
        assert.deepEqual(ids(await live), [31]);
        cursor.close();
        assert.deepEqual(await cursor.next(), []);
      } finally {
        await ctx.dispose();
      }
    });

    it('should fill from the cold store what local retention dropped while the cursor was open', async () => {
      const { ctx, cold, tiered } = await setUp(40, 1);
      try {
        const cursor = await tiered.tail('s', 12);
        assert.deepEqual(ids(await cursor.next(3)), [12, 13, 14]);
        for (const base of [11, 21]) {
          const segment = await ctx.log.segment({ subject: 's', baseOffset: base });
          assert.ok(segment !== undefined);
          await cold.writeSegment(segment, ctx.log.readSegment({ subject: 's', baseOffset: base }), 0);
          await ctx.log.markReplicated({ subject: 's', baseOffset: base });
          await ctx.log.deleteSegment({ subject: 's', baseOffset: base });
        }
        const seen: number[] = [];
        while (seen.length < 26) seen.push(...ids(await cursor.next()));
        cursor.close();
        assert.deepEqual(seen, range(15, 40));
      } finally {
        await ctx.dispose();
      }
    });

    it('should replay the cold store, then wait for appends, when nothing is stored locally', async () => {
      const { ctx, tiered } = await setUp(20, 2);
      try {
        assert.equal((await ctx.log.subjectInfo('s'))?.firstOffset, 21);
        const cursor = await tiered.tail('s', 1);
        const seen: number[] = [];
        while (seen.length < 20) seen.push(...ids(await cursor.next()));
        assert.deepEqual(seen, range(1, 20));
        const live = cursor.next();
        await ctx.log.append({ subject: 's', body: Buffer.from('new'), expirationSeconds: 0 });
        assert.deepEqual(ids(await live), [21]);
        cursor.close();
      } finally {
        await ctx.dispose();
      }
    });
  });
});
