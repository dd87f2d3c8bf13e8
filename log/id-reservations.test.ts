import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BrokerError,
  FencedError,
  UnavailableError,
  type IdReservation,
  type IdReservations,
  type SettledHead,
} from '../core/index.js';
import { MemoryIdReservations } from '../cluster/index.js';
import { reservationScenarios } from './test-support/reservation-scenarios.js';
import { body, tempLog } from './test-support/temp-log.js';

reservationScenarios('MemoryIdReservations', () =>
  Promise.resolve({ store: new MemoryIdReservations(), dispose: () => Promise.resolve() }),
);

/** Memory reservations whose writes fail while `failing` is set. */
class FailingReservations implements IdReservations {
  failing = false;
  readonly inner = new MemoryIdReservations();
  reserved(partition: number): Promise<Map<string, number>> {
    return this.inner.reserved(partition);
  }
  fence(partition: number, epoch: number): Promise<void> {
    return this.inner.fence(partition, epoch);
  }
  reserve(partition: number, entries: readonly IdReservation[], epoch: number): Promise<void> {
    if (this.failing) return Promise.reject(new UnavailableError('the reservation store is down (test)'));
    return this.inner.reserve(partition, entries, epoch);
  }
  settle(partition: number, heads: readonly SettledHead[], epoch: number): Promise<void> {
    if (this.failing) return Promise.reject(new UnavailableError('the reservation store is down (test)'));
    return this.inner.settle(partition, heads, epoch);
  }
}

describe('LevelDbLog with id reservations', () => {
  describe('when a reservation cannot be written', () => {
    it('should refuse the appends it covers (UNAVAILABLE), acknowledge none above the reservation, and go on once the store is back', async () => {
      const store = new FailingReservations();
      const ctx = await tempLog({
        idReservations: store,
        idReservationChunk: 10,
        writeRetry: { firstMs: 20, maxMs: 40 },
      });
      const append = (): Promise<number> => ctx.log.append({ subject: 's', body: body('x'), expirationSeconds: 0 });
      try {
        assert.equal(await append(), 1);
        const reserved = (await store.reserved(0)).get('s');
        assert.equal(reserved, 11);
        store.failing = true;
        const acked: number[] = [];
        let refused: unknown;
        for (let i = 0; i < 20 && refused === undefined; i++)
          await append().then(
            (id) => acked.push(id),
            (err: unknown) => (refused = err),
          );
        assert.ok(refused instanceof UnavailableError, `refused with ${String(refused)}`);
        assert.deepEqual(acked, [2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 'every id up to the reservation, none above');
        await assert.rejects(append(), UnavailableError, 'refused while the store is down');
        store.failing = false;
        let next: number | undefined;
        for (let i = 0; i < 200 && next === undefined; i++) {
          next = await append().catch(() => undefined);
          if (next === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
        }
        assert.ok(next !== undefined && next > 11, `appends go on above the reservation (${next})`);
        assert.ok(((await store.reserved(0)).get('s') ?? 0) >= next);
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when a newer owner fenced the partition (a log alone, no PartitionedLog to give it up)', () => {
    it('should refuse the raising batch NOT_OWNER with nothing of it on disk, and keep refusing', async () => {
      const store = new FailingReservations();
      const ctx = await tempLog({
        idReservations: store,
        idReservationChunk: 10,
        epoch: 1,
        writeRetry: { firstMs: 20, maxMs: 40 },
      });
      const append = (): Promise<number> => ctx.log.append({ subject: 's', body: body('x'), expirationSeconds: 0 });
      try {
        assert.equal(await append(), 1);
        await store.fence(0, 2);
        const batch = await Promise.allSettled(Array.from({ length: 12 }, append));
        assert.ok(
          batch.every((r) => r.status === 'rejected' && r.reason instanceof FencedError),
          'the batch raising past the reservation is refused whole, NOT_OWNER',
        );
        await new Promise((resolve) => setTimeout(resolve, 100)); // recovery attempts meet the fence again
        await assert.rejects(append(), (err: unknown) => err instanceof BrokerError && err.reason === 'NOT_OWNER');
        assert.equal((await store.reserved(0)).get('s'), 11, 'the reservation is not raised');
        // The owner at epoch 2 on this disk: the refused batch never reached it, so the next id is 2.
        await ctx.reopen({ epoch: 2 });
        assert.equal(await append(), 2);
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when a subject state is evicted and loaded again', () => {
    it('should know its reservation from the disk and write none until its head passes it', async () => {
      const store = new FailingReservations();
      const ctx = await tempLog({ idReservations: store, idReservationChunk: 1000, subjectCacheSize: 1 });
      const append = (subject: string): Promise<number> =>
        ctx.log.append({ subject, body: body('x'), expirationSeconds: 0 });
      try {
        assert.equal(await append('a'), 1);
        for (let i = 0; i < 5; i++) await append(`other-${i}`);
        store.failing = true;
        assert.equal(await append('a'), 2, 'reloaded with its reservation: no write needed');
      } finally {
        store.failing = false;
        await ctx.dispose();
      }
    });
  });
});
