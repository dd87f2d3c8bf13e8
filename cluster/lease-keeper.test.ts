import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, UnavailableError, type OwnershipStore } from '../core/index.js';
import { LeaseKeeper, type LostReason } from './lease-keeper.js';
import type { LeaseKeeperOptions } from './lease-keeper-options.js';
import { MemoryOwnershipStore } from './memory/memory-ownership-store.js';
import { placement } from './placement.js';

const PARTITIONS = 16;
const LEASE = 10_000;
const DRIFT = 500;
const SAFETY = 1_000;
const EVERY = 3_000;

/** A cluster on a fake clock: one memory store, keepers made on demand, events recorded. */
function cluster() {
  const clock = { now: 1_700_000_000_000 };
  const store = new MemoryOwnershipStore({ partitions: PARTITIONS, now: () => clock.now });
  const events: string[] = [];
  const keeper = (id: string, extra: Partial<LeaseKeeperOptions> = {}): LeaseKeeper => {
    const k = new LeaseKeeper({
      store,
      member: { id, address: `${id}:50051`, startedAtMs: clock.now },
      partitions: PARTITIONS,
      leaseMs: LEASE,
      maxClockDriftMs: DRIFT,
      safetyMs: SAFETY,
      renewEveryMs: EVERY,
      now: () => clock.now,
      ...extra,
    });
    k.on('acquired', (p, e) => events.push(`${id} +${p}@${e}`));
    k.on('lost', (p, e, why: LostReason) => events.push(`${id} -${p}@${e} ${why}`));
    return k;
  };
  return { clock, store, events, keeper };
}

const partitionsOf = (k: LeaseKeeper): number[] => k.held().map((h) => h.partition);
const share = (id: string, ids: string[]): number[] =>
  placement(PARTITIONS, ids).flatMap((owner, p) => (owner === id ? [p] : []));
const all = Array.from({ length: PARTITIONS }, (_, p) => p);
/** An owner read from the rows without its lease's end, which the clock of each test decides. */
const rowOwner = (owner: ReturnType<LeaseKeeper['ownerOf']>) => {
  if (owner === undefined) return undefined;
  const { leaseUntilMs, ...rest } = owner;
  assert.equal(typeof leaseUntilMs, 'number', 'an owner read from the rows carries its lease end');
  return rest;
};

describe('LeaseKeeper', () => {
  describe('when it is the only member', () => {
    it('should claim every partition at epoch 1 in its first round', async () => {
      const { keeper, events } = cluster();
      const a = keeper('a');
      assert.equal(a.ownerOf(0), undefined);
      await a.tick();
      assert.deepEqual(partitionsOf(a), all);
      assert.ok(a.held().every((h) => h.epoch === 1 && h.state === 'serving'));
      assert.equal(events.length, PARTITIONS);
      assert.ok(all.every((p) => a.canAppend(p) && a.epochOf(p) === 1));
      assert.deepEqual(a.ownerOf(0), { member: 'a', address: 'a:50051', epoch: 1 });
      const b = keeper('b');
      await b.tick();
      // Read from the rows, an owner also carries its lease's end (forwarded calls to it are cut there).
      assert.deepEqual(rowOwner(b.ownerOf(0)), { member: 'a', address: 'a:50051', epoch: 1 }, 'as b saw the rows');
      assert.deepEqual(
        b.members().map((m) => m.id),
        ['a', 'b'],
      );
    });

    it('should stop appending lease - drift - safety after its last renewal (fencing by time)', async () => {
      const { keeper, clock } = cluster();
      const a = keeper('a');
      const claimedAt = clock.now;
      await a.tick();
      clock.now = claimedAt + LEASE - DRIFT - SAFETY - 1;
      assert.equal(a.canAppend(3), true);
      clock.now += 1;
      assert.equal(a.canAppend(3), false);
      assert.equal(a.epochOf(3), 1, 'it still holds the partition, it just may not append');
    });

    it('should keep appending across renewals', async () => {
      const { keeper, clock } = cluster();
      const a = keeper('a');
      await a.tick();
      for (let round = 0; round < 10; round++) {
        clock.now += EVERY;
        await a.tick();
        assert.ok(all.every((p) => a.canAppend(p)));
      }
      assert.ok(a.held().every((h) => h.epoch === 1));
    });
  });

  describe('when a member joins', () => {
    it('should hand over exactly the newcomer share, after the hand-over callback, and keep the rest', async () => {
      const { keeper, events, clock } = cluster();
      const handedOver: string[] = [];
      const a = keeper('a', {
        handOver: async (p, e) => {
          assert.equal(a.canAppend(p), false, 'appends stop before the hand-over');
          handedOver.push(`${p}@${e}`);
        },
      });
      await a.tick();
      const b = keeper('b');
      await b.tick();
      assert.deepEqual(partitionsOf(b), [], 'b waits while a holds a live lease');
      events.length = 0;
      clock.now += EVERY;
      await a.tick();
      await settle();
      const moving = share('b', ['a', 'b']);
      assert.ok(moving.length > 0);
      assert.deepEqual(
        handedOver,
        moving.map((p) => `${p}@1`),
      );
      assert.deepEqual(partitionsOf(a), share('a', ['a', 'b']));
      await b.tick();
      assert.deepEqual(partitionsOf(b), moving);
      assert.ok(b.held().every((h) => h.epoch === 2));
      assert.deepEqual(events, [...moving.map((p) => `a -${p}@1 released`), ...moving.map((p) => `b +${p}@2`)]);
    });

    it('should serve on and retry in the next round when the hand-over callback fails', async () => {
      const { keeper, clock } = cluster();
      let fail = true;
      const a = keeper('a', {
        handOver: async () => {
          if (fail) throw new Error('flush failed');
        },
      });
      await a.tick();
      const b = keeper('b');
      await b.tick();
      clock.now += EVERY;
      await a.tick();
      await settle();
      assert.deepEqual(partitionsOf(a), all);
      assert.ok(all.every((p) => a.canAppend(p)));
      fail = false;
      clock.now += EVERY;
      await a.tick();
      await settle();
      assert.deepEqual(partitionsOf(a), share('a', ['a', 'b']));
    });
  });

  describe('when an owner stops renewing (a crash)', () => {
    it('should let another member claim its partitions only after lease + drift, once it can no longer append', async () => {
      const { keeper, clock, events } = cluster();
      const a = keeper('a');
      const b = keeper('b');
      await a.tick();
      await b.tick();
      clock.now += EVERY;
      await a.tick();
      await settle();
      await b.tick();
      const aShare = share('a', ['a', 'b']);
      const lastRenewal = clock.now;
      await a.tick(); // a's last round: it renews, then dies
      events.length = 0;
      const acquiredAt = new Map<number, number>();
      b.on('acquired', (p, _e, wasReleased) => {
        assert.equal(wasReleased, false, 'claimed after its lease lapsed, not released');
        acquiredAt.set(p, clock.now);
        assert.equal(a.canAppend(p), false, `a could still append to ${p} when b took it`);
      });
      while (clock.now < lastRenewal + LEASE + DRIFT + EVERY) {
        clock.now += 500;
        await b.tick();
      }
      assert.deepEqual(
        [...acquiredAt.keys()].sort((x, y) => x - y),
        aShare,
      );
      for (const at of acquiredAt.values())
        assert.ok(at >= lastRenewal + LEASE + DRIFT, `claimed at +${at - lastRenewal} ms`);
      assert.deepEqual(partitionsOf(b), all);
      assert.ok(
        b.held().every((h) => h.epoch === 2),
        'each partition changed hands once',
      );
      await a.tick();
      assert.deepEqual(partitionsOf(a), [], 'the old owner learns it lost them');
      assert.ok(events.includes(`a -${aShare[0]}@1 taken`));
    });
  });

  describe('when another member takes a held partition', () => {
    it('should report it lost (taken) and refuse appends', async () => {
      const { keeper, store, clock, events } = cluster();
      const a = keeper('a');
      await a.tick();
      const row = await store.ownership(5);
      assert.equal((await store.claim(5, 'intruder', row, LEASE)).applied, true);
      clock.now += EVERY;
      await a.tick();
      assert.equal(a.canAppend(5), false);
      assert.equal(a.epochOf(5), undefined);
      assert.ok(events.includes('a -5@1 taken'));
    });
  });

  describe('when a read lags behind (a replica that has not seen the latest claim)', () => {
    it('should keep the partitions whose rows it reads at an older epoch', async () => {
      const { keeper, store, clock, events } = cluster();
      let lagging = false;
      const older = async () =>
        (await store.ownerships()).map((row) =>
          lagging ? { ...row, owner: undefined, epoch: row.epoch - 1, leaseUntilMs: 0 } : row,
        );
      const a = keeper('a', { store: { ...delegate(store), ownerships: older } });
      await a.tick();
      lagging = true;
      clock.now += EVERY;
      await a.tick();
      assert.deepEqual(partitionsOf(a), all);
      assert.ok(all.every((p) => a.canAppend(p) && a.epochOf(p) === 1));
      assert.ok(!events.some((e) => e.includes(' -')), events.join());
    });
  });

  describe('when it stops', () => {
    it('should leave, hand over and release everything, so the others claim at once', async () => {
      const { keeper, store, clock } = cluster();
      const handedOver: number[] = [];
      const a = keeper('a', { handOver: async (p) => void handedOver.push(p) });
      const b = keeper('b');
      await a.tick();
      await b.tick();
      await a.stop();
      assert.deepEqual(handedOver, all);
      assert.deepEqual(partitionsOf(a), []);
      assert.deepEqual(
        (await store.liveMembers()).map((m) => m.id),
        ['b'],
      );
      const released: boolean[] = [];
      b.on('acquired', (_p, _e, wasReleased) => released.push(wasReleased));
      clock.now += 1;
      await b.tick();
      assert.deepEqual(partitionsOf(b), all);
      assert.deepEqual(
        released,
        all.map(() => true),
        'each one claimed as released by a clean hand-over',
      );
    });

    it('should let the next owner claim on refresh(), not at its next round, and still route after leaving', async () => {
      const { keeper, store, clock } = cluster();
      const a = keeper('a');
      const b = keeper('b');
      a.start();
      await a.tick();
      b.start();
      await b.tick();
      assert.deepEqual(partitionsOf(a), all);
      await a.stop();
      await b.refresh();
      assert.deepEqual(partitionsOf(b), [], 'at most one round per 100 ms: the last one was just now');
      clock.now += 100;
      await b.refresh();
      assert.deepEqual(partitionsOf(b), all, 'claimed in a round of its own');
      clock.now += 100;
      await a.refresh();
      assert.deepEqual(
        rowOwner(a.ownerOf(3)),
        { member: 'b', address: 'b:50051', epoch: 2 },
        'the leaver sees the new owner',
      );
      assert.equal(a.placedOn(3), 'b');
      assert.deepEqual(
        (await store.liveMembers()).map((m) => m.id),
        ['b'],
        'a refresh after stop() does not rejoin',
      );
      await b.stop({ handOver: false });
    });

    it('should just forget its partitions without the hand-over, as a crash would', async () => {
      const { keeper, store, events } = cluster();
      const a = keeper('a');
      await a.tick();
      events.length = 0;
      await a.stop({ handOver: false });
      assert.deepEqual(partitionsOf(a), []);
      assert.equal(events.length, PARTITIONS);
      assert.ok(events.every((e) => e.endsWith('stopped')));
      assert.equal((await store.ownership(0)).owner, 'a', 'the lease lapses by itself');
    });
  });

  describe('when it restarts under the same id', () => {
    it('should claim the rows of its earlier incarnation at once, with the next epoch', async () => {
      const { keeper } = cluster();
      await keeper('a').tick();
      const again = keeper('a');
      const released: boolean[] = [];
      again.on('acquired', (_p, _e, wasReleased) => released.push(wasReleased));
      await again.tick();
      assert.deepEqual(partitionsOf(again), all);
      assert.ok(again.held().every((h) => h.epoch === 2));
      assert.deepEqual(
        released,
        all.map(() => false),
        'taken from a crashed incarnation, not handed over',
      );
    });
  });

  describe('when the store fails', () => {
    it('should report the failure, keep its partitions and stop appending when the lease runs out', async () => {
      const { keeper, store, clock } = cluster();
      const flaky = failing(store);
      const a = keeper('a', { store: flaky.store });
      await a.tick();
      flaky.down = true;
      const errors: Error[] = [];
      a.on('storeError', (e) => errors.push(e));
      clock.now += EVERY;
      await a.tick();
      assert.ok(errors.length > 0 && errors.every((e) => e instanceof UnavailableError));
      assert.deepEqual(partitionsOf(a), all);
      clock.now += LEASE;
      assert.ok(all.every((p) => !a.canAppend(p)));
      flaky.down = false;
      await a.tick();
      assert.ok(
        all.every((p) => a.canAppend(p)),
        'nobody took them, so the renewal holds them again',
      );
    });
  });

  describe('when its options contradict each other', () => {
    it('should refuse a lease that leaves no time to append between renewals', () => {
      const { keeper } = cluster();
      assert.throws(() => keeper('a', { leaseMs: 3_000, maxClockDriftMs: 500, safetyMs: 500, renewEveryMs: 2_000 }), {
        name: 'ConfigError',
        message: /leaseMs: a lease of 3000 ms leaves 2000 ms to append after a renewal/,
      });
      assert.throws(() => keeper('a', { memberTtlMs: 500 }), ConfigError);
      assert.throws(() => keeper('a', { partitions: 0 }), ConfigError);
    });
  });
});

/** Lets hand-over callbacks and the releases after them run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** The store's methods as a plain object, so a test can replace one. */
function delegate(store: OwnershipStore): OwnershipStore {
  return {
    heartbeat: (m, ttl) => store.heartbeat(m, ttl),
    leave: (id) => store.leave(id),
    liveMembers: () => store.liveMembers(),
    claim: (p, m, seen, lease) => store.claim(p, m, seen, lease),
    renew: (p, m, e, lease) => store.renew(p, m, e, lease),
    release: (p, m, e) => store.release(p, m, e),
    ownership: (p) => store.ownership(p),
    ownerships: () => store.ownerships(),
    close: () => store.close(),
  };
}

/** The store, failing every call with UNAVAILABLE while `down`. */
function failing(store: OwnershipStore): { store: OwnershipStore; down: boolean } {
  const state = { down: false, store };
  state.store = new Proxy(store, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) =>
        state.down
          ? Promise.reject(new UnavailableError('the CQL server is down'))
          : (value as (...a: unknown[]) => unknown).apply(target, args);
    },
  });
  return state;
}
