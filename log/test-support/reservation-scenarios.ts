// The id reservation scenarios (issue 13: a wiped disk never reissues an id), run with the memory reservations
// (id-reservations.test.ts) and with ScyllaDB's (id-reservations.cql.test.ts): a partitioned log on real LevelDB in a
// temp dir, its partition dirs or whole data dir removed between runs while the reservations survive.
import assert from 'node:assert/strict';
import { cp, rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import type { IdReservations } from '../../core/index.js';
import { partitionDirOf } from '../index.js';
import { message, subjectsCovering, tempPartitioned, type TempPartitioned } from './temp-partitioned.js';

export interface ReservationStoreUnderTest {
  readonly store: IdReservations;
  dispose(): Promise<void>;
}

const PARTITIONS = 4;
const CHUNK = 100;

/** Appends `n` records to `subject` (concurrently, so they share batches); resolves with their ids. */
async function publish(ctx: TempPartitioned, subject: string, n: number): Promise<number[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => ctx.log.append(message(subject, `${subject}-${i}`))));
}

export function reservationScenarios(name: string, open: () => Promise<ReservationStoreUnderTest>): void {
  describe(`${name}: id reservations through a partitioned log`, () => {
    let under: ReservationStoreUnderTest;
    before(async () => {
      under = await open();
    });
    after(async () => under.dispose());

    /** A fresh data dir of 4 partitions using the store, and two subjects in different partitions. */
    async function setup(): Promise<{ ctx: TempPartitioned; a: string; b: string }> {
      const ctx = await tempPartitioned({
        partitions: PARTITIONS,
        idReservations: under.store,
        idReservationChunk: CHUNK,
      });
      // A random prefix: the store is shared by the tests (and the cluster's name is fixed).
      const prefix = `r${Math.random().toString(36).slice(2, 8)}.`;
      const [a, b] = subjectsCovering(PARTITIONS, 1, (s) => ctx.log.partitionOf(s), prefix);
      assert.ok(a !== undefined && b !== undefined && ctx.log.partitionOf(a) !== ctx.log.partitionOf(b));
      return { ctx, a, b };
    }

    describe('when a partition dir is wiped and the log reopened with the same reservations', () => {
      it('should continue its subjects above every id acknowledged, answer lost for the skipped ids, and leave the other partitions', async () => {
        const { ctx, a, b } = await setup();
        try {
          const acked = [...(await publish(ctx, a, 250)), ...(await publish(ctx, a, 30))];
          assert.deepEqual(await publish(ctx, b, 3), [1, 2, 3]);
          const partition = ctx.log.partitionOf(a);
          const reserved = (await under.store.reserved(partition)).get(a) ?? 0;
          assert.ok(reserved >= Math.max(...acked), `reserved ${reserved} covers every acknowledged id`);
          await ctx.log.close();
          await rm(await partitionDirOf(ctx.dir, a), { recursive: true, force: true });
          await ctx.reopen();
          const [next] = await publish(ctx, a, 1);
          assert.equal(next, reserved + 1, 'the next id is above the reservation');
          assert.equal((await ctx.log.get(a, 7)).kind, 'lost');
          assert.equal((await ctx.log.get(a, reserved)).kind, 'lost');
          assert.deepEqual(
            (await ctx.log.readRange(a, 1, { maxRecords: 10, maxBytes: 1 << 20 })).map((r) => r.offset),
            [reserved + 1],
            'a replay skips the lost ids',
          );
          assert.deepEqual(await publish(ctx, b, 1), [4], 'the partition not wiped continues exactly');
        } finally {
          await ctx.dispose();
        }
      });
    });

    describe('when the whole data dir is wiped', () => {
      it('should recreate every subject from its reservation: lost ids below, the next id above, a cursor from 1 gets the new ones', async () => {
        const { ctx, a, b } = await setup();
        try {
          await publish(ctx, a, 40);
          await publish(ctx, b, 5);
          const reservedA = (await under.store.reserved(ctx.log.partitionOf(a))).get(a) ?? 0;
          const reservedB = (await under.store.reserved(ctx.log.partitionOf(b))).get(b) ?? 0;
          await ctx.log.close();
          await rm(ctx.dir, { recursive: true, force: true });
          await ctx.reopen();
          const info = await ctx.log.subjectInfo(a);
          assert.equal(info?.lastOffset, reservedA, 'the subject exists again, up to its reservation');
          assert.equal((await ctx.log.get(b, 5)).kind, 'lost', 'acknowledged before the wipe: DATA_LOSS');
          const cursor = await ctx.log.tail(a, 1);
          const [next] = await publish(ctx, a, 1);
          assert.equal(next, reservedA + 1);
          assert.deepEqual(
            (await cursor.next()).map((r) => r.offset),
            [reservedA + 1],
          );
          cursor.close();
          assert.deepEqual(await publish(ctx, b, 1), [reservedB + 1]);
        } finally {
          await ctx.dispose();
        }
      });
    });

    describe('when the log restarts on its own disk', () => {
      it('should continue every subject at head + 1, skipping nothing', async () => {
        const { ctx, a } = await setup();
        try {
          await publish(ctx, a, 150);
          await ctx.reopen();
          assert.deepEqual(await publish(ctx, a, 1), [151]);
          assert.equal((await ctx.log.get(a, 150)).kind, 'record');
        } finally {
          await ctx.dispose();
        }
      });
    });

    describe('when an older copy of a partition comes back (its owner moved away, appended, and it returned)', () => {
      it('should continue above what was acknowledged since the copy was made', async () => {
        const { ctx, a } = await setup();
        const copy = `${ctx.dir}-copy`;
        try {
          await publish(ctx, a, 10);
          await ctx.log.close();
          const dir = await partitionDirOf(ctx.dir, a);
          await cp(dir, copy, { recursive: true });
          await ctx.reopen();
          const later = await publish(ctx, a, 3 * CHUNK);
          await ctx.log.close();
          await rm(dir, { recursive: true, force: true });
          await cp(copy, dir, { recursive: true });
          await ctx.reopen();
          const [next] = await publish(ctx, a, 1);
          assert.ok(next !== undefined && next > Math.max(...later), `${next} is above ${Math.max(...later)}`);
          assert.equal((await ctx.log.get(a, 10)).kind, 'record', 'what the copy holds is served');
          assert.equal((await ctx.log.get(a, 11)).kind, 'lost');
        } finally {
          await rm(copy, { recursive: true, force: true });
          await ctx.dispose();
        }
      });
    });
  });
}
