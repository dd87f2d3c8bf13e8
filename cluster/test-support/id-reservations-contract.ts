import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FencedError, type IdReservations } from '../../core/index.js';

/** An implementation under test and how to get rid of it afterwards. */
export interface ReservationsUnderTest {
  readonly reservations: IdReservations;
  dispose(): Promise<void>;
}

/**
 * What the log relies on from any IdReservations (memory, ScyllaDB): per partition and subject the highest id ever
 * reserved, never lowered, whatever the order or concurrency of the writes; and per partition a fence that refuses
 * whole the writes of an epoch below it.
 */
export function idReservationsContract(name: string, open: () => Promise<ReservationsUnderTest>): void {
  describe(`${name}: the IdReservations contract`, () => {
    let ctx: ReservationsUnderTest;
    let r: IdReservations;
    before(async () => {
      ctx = await open();
      r = ctx.reservations;
    });
    after(async () => ctx.dispose());

    it('should read a partition never reserved as empty', async () => {
      assert.deepEqual([...(await r.reserved(7))], []);
    });

    it('should keep the highest id reserved per subject, each partition apart', async () => {
      await r.reserve(
        1,
        [
          { subject: 'orders', upTo: 10_000 },
          { subject: 'orders.eu', upTo: 5 },
        ],
        0,
      );
      await r.reserve(2, [{ subject: 'orders', upTo: 3 }], 0);
      await r.reserve(1, [{ subject: 'orders', upTo: 20_000 }], 0);
      assert.deepEqual(
        new Map([...(await r.reserved(1))].sort()),
        new Map([
          ['orders', 20_000],
          ['orders.eu', 5],
        ]),
      );
      assert.deepEqual([...(await r.reserved(2))], [['orders', 3]]);
    });

    it('should never lower a reservation, by a later or a concurrent lower write', async () => {
      await r.reserve(3, [{ subject: 's', upTo: 2 ** 40 }], 0);
      await r.reserve(3, [{ subject: 's', upTo: 17 }], 0);
      assert.equal((await r.reserved(3)).get('s'), 2 ** 40);
      const values = Array.from({ length: 40 }, (_, i) => ((i * 7919) % 40) * 1000 + 1);
      await Promise.all(values.map((upTo) => r.reserve(4, [{ subject: 'raced', upTo }], 0)));
      assert.equal((await r.reserved(4)).get('raced'), Math.max(...values));
    });

    it('should take many subjects in one call, names with any characters', async () => {
      const entries = Array.from({ length: 300 }, (_, i) => ({ subject: `s.${i}.é-日本`, upTo: i + 1 }));
      await r.reserve(5, entries, 0);
      await r.reserve(5, [{ subject: 's.0.é-日本', upTo: 0 }], 0);
      const read = await r.reserved(5);
      assert.equal(read.size, 300);
      for (const e of entries) assert.equal(read.get(e.subject), e.upTo);
    });

    it('should accept an empty call', async () => {
      await r.reserve(6, [], 0);
      assert.equal((await r.reserved(6)).size, 0);
    });

    it('should settle a reservation down to the exact last id, leaving other subjects and partitions', async () => {
      await r.reserve(
        8,
        [
          { subject: 'orders', upTo: 10_007 },
          { subject: 'other', upTo: 10_000 },
        ],
        0,
      );
      await r.reserve(9, [{ subject: 'orders', upTo: 10_007 }], 0);
      await r.reserve(8, [{ subject: 'orders', upTo: 20_007 }], 0);
      await r.settle(8, [{ subject: 'orders', lastId: 7 }], 0);
      assert.deepEqual(
        new Map([...(await r.reserved(8))].sort()),
        new Map([
          ['orders', 7],
          ['other', 10_000],
        ]),
      );
      assert.equal((await r.reserved(9)).get('orders'), 10_007);
    });

    it('should raise from a settled value again, as the next owner does, and settle a subject never reserved', async () => {
      await r.reserve(10, [{ subject: 's', upTo: 10_005 }], 0);
      await r.settle(
        10,
        [
          { subject: 's', lastId: 5 },
          { subject: 'new', lastId: 3 },
        ],
        0,
      );
      await r.reserve(10, [{ subject: 's', upTo: 6 }], 0);
      assert.equal((await r.reserved(10)).get('s'), 6);
      await r.reserve(10, [{ subject: 's', upTo: 10_006 }], 0);
      await r.reserve(10, [{ subject: 's', upTo: 9 }], 0);
      const read = await r.reserved(10);
      assert.equal(read.get('s'), 10_006);
      assert.equal(read.get('new'), 3);
    });

    it('should settle many subjects in one call, and accept an empty one', async () => {
      const entries = Array.from({ length: 100 }, (_, i) => ({ subject: `m.${i}.é`, upTo: i + 10_000 }));
      await r.reserve(11, entries, 0);
      await r.settle(11, [], 0);
      await r.settle(
        11,
        entries.map((e, i) => ({ subject: e.subject, lastId: i + 1 })),
        0,
      );
      const read = await r.reserved(11);
      assert.equal(read.size, 100);
      entries.forEach((e, i) => assert.equal(read.get(e.subject), i + 1));
    });

    const fencedAt = (partition: number, epoch: number, fence: number) => (err: unknown) =>
      err instanceof FencedError &&
      err.reason === 'NOT_OWNER' &&
      err.partition === partition &&
      err.epoch === epoch &&
      err.fence === fence;

    it('should refuse a raise or a settle under an epoch below the fence, whole, and take them at the fence', async () => {
      const many = Array.from({ length: 40 }, (_, i) => ({ subject: `f.${i}`, upTo: 10_000 + i }));
      await r.fence(12, 1);
      await r.reserve(12, many, 1);
      await r.fence(12, 2);
      const before = await r.reserved(12);
      await assert.rejects(
        r.reserve(12, [...many.map((e) => ({ ...e, upTo: e.upTo + 10_000 })), { subject: 'new', upTo: 9 }], 1),
        fencedAt(12, 1, 2),
      );
      await assert.rejects(
        r.settle(
          12,
          many.map((e) => ({ subject: e.subject, lastId: 1 })),
          1,
        ),
        fencedAt(12, 1, 2),
      );
      assert.deepEqual(await r.reserved(12), before, 'the refused calls changed nothing');
      await r.reserve(12, [{ subject: 'f.0', upTo: 30_000 }], 2);
      await r.settle(12, [{ subject: 'f.1', lastId: 7 }], 2);
      const after = await r.reserved(12);
      assert.equal(after.get('f.0'), 30_000);
      assert.equal(after.get('f.1'), 7);
      assert.equal(after.has('new'), false);
    });

    it('should never lower a fence: a lower one is refused, the same one is taken again', async () => {
      await r.fence(13, 5);
      await assert.rejects(r.fence(13, 3), fencedAt(13, 3, 5));
      await r.fence(13, 5);
      await assert.rejects(r.reserve(13, [{ subject: 's', upTo: 10 }], 4), fencedAt(13, 4, 5));
      await r.reserve(13, [{ subject: 's', upTo: 10 }], 5);
      await r.fence(13, 6);
      await assert.rejects(r.reserve(13, [{ subject: 's', upTo: 20 }], 5), fencedAt(13, 5, 6));
      assert.equal((await r.reserved(13)).get('s'), 10);
    });

    it('should let epoch 0 (a broker alone) write while never fenced, each partition fenced apart', async () => {
      await r.reserve(14, [{ subject: 's', upTo: 3 }], 0);
      await r.settle(14, [{ subject: 's', lastId: 2 }], 0);
      await r.reserve(15, [{ subject: 's', upTo: 4 }], 0);
      await r.fence(14, 1);
      await assert.rejects(r.reserve(14, [{ subject: 's', upTo: 9 }], 0), fencedAt(14, 0, 1));
      await r.reserve(15, [{ subject: 's', upTo: 9 }], 0);
      assert.equal((await r.reserved(14)).get('s'), 2);
      assert.equal((await r.reserved(15)).get('s'), 9);
    });

    it('should end concurrent fences at the highest epoch', async () => {
      const epochs = [3, 9, 1, 7, 5];
      const results = await Promise.allSettled(epochs.map((e) => r.fence(16, e)));
      assert.equal(results[1]?.status, 'fulfilled', 'the highest fence is always taken');
      await assert.rejects(r.reserve(16, [{ subject: 's', upTo: 1 }], 8), fencedAt(16, 8, 9));
      await r.reserve(16, [{ subject: 's', upTo: 1 }], 9);
    });
  });
}
