import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  InvariantError,
  UNCLAIMED,
  type ClusterMember,
  type OwnershipChange,
  type OwnershipStore,
  type PartitionOwnership,
} from '../../core/index.js';

/** A store for the contract to run against (a fresh cluster: no members, no rows), and how to release it. */
export interface OwnershipStoreUnderTest {
  readonly store: OwnershipStore;
  /** The partition count the store was opened with. */
  readonly partitions: number;
  /** The store's clock, ms since the epoch. */
  now(): number;
  /** Lets `ms` pass on the store's clock (a fake clock advances; the CQL server's TTLs need real time). */
  pass(ms: number): Promise<void>;
  dispose(): Promise<void>;
}

const LEASE = 10_000;
const member = (id: string, startedAtMs = 1_000): ClusterMember => ({ id, address: `${id}.local:50051`, startedAtMs });

async function using(
  open: () => Promise<OwnershipStoreUnderTest>,
  body: (t: OwnershipStoreUnderTest) => Promise<void>,
) {
  const t = await open();
  try {
    await body(t);
  } finally {
    await t.dispose();
  }
}

/** Claims partition 0 for `id` from nothing and checks the claim applied. */
async function firstClaim(t: OwnershipStoreUnderTest, id: string, partition = 0): Promise<PartitionOwnership> {
  const change = await t.store.claim(partition, id, UNCLAIMED, LEASE);
  assert.equal(change.applied, true);
  return change.current;
}

/**
 * What every OwnershipStore must do (core/ownership-store.ts), run against the memory store and the Cassandra store
 * alike. `open` gives a fresh, empty cluster each time.
 */
export function ownershipStoreContract(name: string, open: () => Promise<OwnershipStoreUnderTest>): void {
  describe(`${name}: the OwnershipStore contract`, () => {
    membersContract(open);
    claimContract(open);
    renewAndReleaseContract(open);
    concurrentClaimsContract(open);
  });
}

function membersContract(open: () => Promise<OwnershipStoreUnderTest>): void {
  describe('when members beat', () => {
    it('should list the live members in id order with their address and start time', () =>
      using(open, async ({ store }) => {
        await store.heartbeat(member('b2', 2_000), 60_000);
        await store.heartbeat(member('b0', 1_000), 60_000);
        await store.heartbeat({ id: 'b0/w1', address: '10.0.0.1:7000', startedAtMs: 3_000 }, 60_000);
        assert.deepEqual(await store.liveMembers(), [
          member('b0', 1_000),
          { id: 'b0/w1', address: '10.0.0.1:7000', startedAtMs: 3_000 },
          member('b2', 2_000),
        ]);
      }));

    it('should keep one row per member, with the latest address and start time', () =>
      using(open, async ({ store }) => {
        await store.heartbeat(member('b0', 1_000), 60_000);
        await store.heartbeat({ id: 'b0', address: 'elsewhere:1', startedAtMs: 5_000 }, 60_000);
        assert.deepEqual(await store.liveMembers(), [{ id: 'b0', address: 'elsewhere:1', startedAtMs: 5_000 }]);
      }));

    it('should forget a member once its heartbeat TTL has passed', () =>
      using(open, async (t) => {
        await t.store.heartbeat(member('short'), 1_000);
        await t.store.heartbeat(member('long'), 60_000);
        await t.pass(2_500);
        assert.deepEqual(
          (await t.store.liveMembers()).map((m) => m.id),
          ['long'],
        );
      }));

    it('should forget a member that leaves at once', () =>
      using(open, async ({ store }) => {
        await store.heartbeat(member('b0'), 60_000);
        await store.heartbeat(member('b1'), 60_000);
        await store.leave('b0');
        assert.deepEqual(
          (await store.liveMembers()).map((m) => m.id),
          ['b1'],
        );
      }));

    it('should refuse a heartbeat TTL below one second (CQL TTLs are whole seconds)', () =>
      using(open, async ({ store }) => {
        await assert.rejects(store.heartbeat(member('b0'), 999), InvariantError);
      }));
  });
}

function claimContract(open: () => Promise<OwnershipStoreUnderTest>): void {
  describe('when a partition is claimed', () => {
    it('should give a never-claimed partition epoch 1 and a lease from now', () =>
      using(open, async (t) => {
        assert.deepEqual(await t.store.ownership(3), { partition: 3, ...UNCLAIMED });
        const before = t.now();
        const change = await t.store.claim(3, 'b0', UNCLAIMED, LEASE);
        const after = t.now();
        assert.equal(change.applied, true);
        assert.equal(change.current.owner, 'b0');
        assert.equal(change.current.epoch, 1);
        assert.ok(change.current.leaseUntilMs >= before + LEASE && change.current.leaseUntilMs <= after + LEASE);
        assert.deepEqual(await t.store.ownership(3), change.current);
      }));

    it('should refuse a claim from a row that has changed, answering with the current row', () =>
      using(open, async (t) => {
        const won = await firstClaim(t, 'b0');
        const late = await t.store.claim(0, 'b1', UNCLAIMED, LEASE);
        assert.deepEqual(late, { applied: false, current: won });
        const stale = await t.store.claim(0, 'b1', { ...won, epoch: won.epoch + 1 }, LEASE);
        assert.deepEqual(stale, { applied: false, current: won });
      }));

    it('should refuse a claim made from the row as it was before a renewal (the owner is alive)', () =>
      using(open, async (t) => {
        const seen = await firstClaim(t, 'b0');
        await t.pass(5);
        const renewed = await t.store.renew(0, 'b0', seen.epoch, LEASE);
        assert.equal(renewed.applied, true);
        const change = await t.store.claim(0, 'b1', seen, LEASE);
        assert.equal(change.applied, false);
        assert.deepEqual(change.current, renewed.current);
      }));

    it('should let a claim from the current row take the partition with the next epoch', () =>
      using(open, async (t) => {
        const seen = await firstClaim(t, 'b0');
        const change = await t.store.claim(0, 'b1', seen, LEASE);
        assert.equal(change.applied, true);
        assert.deepEqual(
          { ...change.current, leaseUntilMs: 0 },
          { partition: 0, owner: 'b1', epoch: 2, leaseUntilMs: 0 },
        );
        assert.deepEqual(await t.store.ownership(0), change.current);
      }));

    it('should list the rows of claimed partitions only, in partition order', () =>
      using(open, async (t) => {
        const five = await firstClaim(t, 'b1', 5);
        const zero = await firstClaim(t, 'b0', 0);
        const last = await firstClaim(t, 'b2', t.partitions - 1);
        assert.deepEqual(await t.store.ownerships(), [zero, five, last]);
      }));

    it('should refuse a partition outside the cluster', () =>
      using(open, async (t) => {
        await assert.rejects(t.store.claim(t.partitions, 'b0', UNCLAIMED, LEASE), InvariantError);
        await assert.rejects(t.store.claim(-1, 'b0', UNCLAIMED, LEASE), InvariantError);
        await assert.rejects(t.store.ownership(t.partitions), InvariantError);
      }));
  });
}

function renewAndReleaseContract(open: () => Promise<OwnershipStoreUnderTest>): void {
  describe('when the owner renews or releases', () => {
    it('should extend the lease of the owner at its epoch, and of nobody else', () =>
      using(open, async (t) => {
        const held = await firstClaim(t, 'b0');
        await t.pass(5);
        const renewed = await t.store.renew(0, 'b0', held.epoch, LEASE);
        assert.equal(renewed.applied, true);
        assert.equal(renewed.current.epoch, held.epoch);
        assert.ok(renewed.current.leaseUntilMs > held.leaseUntilMs);
        assert.deepEqual(await t.store.renew(0, 'b1', held.epoch, LEASE), { applied: false, current: renewed.current });
        assert.deepEqual(await t.store.renew(0, 'b0', held.epoch + 1, LEASE), {
          applied: false,
          current: renewed.current,
        });
        assert.equal((await t.store.renew(1, 'b0', 1, LEASE)).applied, false);
      }));

    it('should release to nobody, keeping the epoch, so the next claim gets the next epoch', () =>
      using(open, async (t) => {
        const held = await firstClaim(t, 'b0');
        const released = await t.store.release(0, 'b0', held.epoch);
        assert.deepEqual(released, {
          applied: true,
          current: { partition: 0, owner: undefined, epoch: 1, leaseUntilMs: 0 },
        });
        assert.deepEqual(await t.store.ownership(0), released.current);
        assert.equal((await t.store.renew(0, 'b0', held.epoch, LEASE)).applied, false);
        const next = await t.store.claim(0, 'b1', released.current, LEASE);
        assert.equal(next.applied, true);
        assert.equal(next.current.epoch, 2);
      }));

    it('should refuse a release by another member or at another epoch', () =>
      using(open, async (t) => {
        const held = await firstClaim(t, 'b0');
        assert.deepEqual(await t.store.release(0, 'b1', held.epoch), { applied: false, current: held });
        assert.deepEqual(await t.store.release(0, 'b0', held.epoch + 1), { applied: false, current: held });
      }));
  });
}

/** Every member claims `partition` from `seen` at once; failures (a timed-out LWT) count as unknown outcomes. */
async function race(store: OwnershipStore, partition: number, members: readonly string[], seen: PartitionOwnership) {
  const answers = await Promise.allSettled(members.map((m) => store.claim(partition, m, seen, LEASE)));
  const changes = answers.flatMap((a): OwnershipChange[] => (a.status === 'fulfilled' ? [a.value] : []));
  return { winners: changes.filter((c) => c.applied), unknown: answers.length - changes.length };
}

function concurrentClaimsContract(open: () => Promise<OwnershipStoreUnderTest>): void {
  describe('when several members claim one partition at once', () => {
    it('should let exactly one of them win each epoch', () =>
      using(open, async (t) => {
        const members = ['m0', 'm1', 'm2', 'm3', 'm4'];
        let seen: PartitionOwnership = { partition: 2, ...UNCLAIMED };
        for (let round = 1; round <= 4; round++) {
          const { winners, unknown } = await race(t.store, 2, members, seen);
          const row = await t.store.ownership(2);
          assert.equal(row.epoch, seen.epoch + 1, `round ${round}: one claim applied, so the epoch moved by one`);
          assert.ok(winners.length <= 1, `round ${round}: ${winners.length} claims applied`);
          if (unknown === 0) assert.equal(winners.length, 1, `round ${round}: no claim applied`);
          if (winners[0] !== undefined) assert.deepEqual(winners[0].current, row);
          seen = row;
        }
      }));
  });
}
