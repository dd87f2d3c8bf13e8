import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { IdReservations } from '../../core/index.js';

/** An implementation under test and how to get rid of it afterwards. */
export interface ReservationsUnderTest {
  readonly reservations: IdReservations;
  dispose(): Promise<void>;
}

/**
 * What the log relies on from any IdReservations (memory, ScyllaDB): per partition and subject the highest id ever
 * reserved, never lowered, whatever the order or concurrency of the writes.
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
      await r.reserve(1, [
        { subject: 'orders', upTo: 10_000 },
        { subject: 'orders.eu', upTo: 5 },
      ]);
      await r.reserve(2, [{ subject: 'orders', upTo: 3 }]);
      await r.reserve(1, [{ subject: 'orders', upTo: 20_000 }]);
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
      await r.reserve(3, [{ subject: 's', upTo: 2 ** 40 }]);
      await r.reserve(3, [{ subject: 's', upTo: 17 }]);
      assert.equal((await r.reserved(3)).get('s'), 2 ** 40);
      const values = Array.from({ length: 40 }, (_, i) => ((i * 7919) % 40) * 1000 + 1);
      await Promise.all(values.map((upTo) => r.reserve(4, [{ subject: 'raced', upTo }])));
      assert.equal((await r.reserved(4)).get('raced'), Math.max(...values));
    });

    it('should take many subjects in one call, names with any characters', async () => {
      const entries = Array.from({ length: 300 }, (_, i) => ({ subject: `s.${i}.é-日本`, upTo: i + 1 }));
      await r.reserve(5, entries);
      await r.reserve(5, [{ subject: 's.0.é-日本', upTo: 0 }]);
      const read = await r.reserved(5);
      assert.equal(read.size, 300);
      for (const e of entries) assert.equal(read.get(e.subject), e.upTo);
    });

    it('should accept an empty call', async () => {
      await r.reserve(6, []);
      assert.equal((await r.reserved(6)).size, 0);
    });

    it('should settle a reservation down to the exact last id, leaving other subjects and partitions', async () => {
      await r.reserve(8, [
        { subject: 'orders', upTo: 10_007 },
        { subject: 'other', upTo: 10_000 },
      ]);
      await r.reserve(9, [{ subject: 'orders', upTo: 10_007 }]);
      await r.reserve(8, [{ subject: 'orders', upTo: 20_007 }]);
      await r.settle(8, [{ subject: 'orders', lastId: 7 }]);
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
      await r.reserve(10, [{ subject: 's', upTo: 10_005 }]);
      await r.settle(10, [
        { subject: 's', lastId: 5 },
        { subject: 'new', lastId: 3 },
      ]);
      await r.reserve(10, [{ subject: 's', upTo: 6 }]);
      assert.equal((await r.reserved(10)).get('s'), 6);
      await r.reserve(10, [{ subject: 's', upTo: 10_006 }]);
      await r.reserve(10, [{ subject: 's', upTo: 9 }]);
      const read = await r.reserved(10);
      assert.equal(read.get('s'), 10_006);
      assert.equal(read.get('new'), 3);
    });

    it('should settle many subjects in one call, and accept an empty one', async () => {
      const entries = Array.from({ length: 100 }, (_, i) => ({ subject: `m.${i}.é`, upTo: i + 10_000 }));
      await r.reserve(11, entries);
      await r.settle(11, []);
      await r.settle(
        11,
        entries.map((e, i) => ({ subject: e.subject, lastId: i + 1 })),
      );
      const read = await r.reserved(11);
      assert.equal(read.size, 100);
      entries.forEach((e, i) => assert.equal(read.get(e.subject), i + 1));
    });
  });
}
