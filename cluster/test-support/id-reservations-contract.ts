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
  });
}
