// A stale owner fenced by the partition's epoch (issue 13), run with memory stores (fenced-owner.test.ts) and with
// the CQL server's (fenced-owner.cql.test.ts): two members, each a partitioned log on real LevelDB in a data dir of
// its own, sharing the id reservations and (acks replicated) the cold tier.
import assert from 'node:assert/strict';
import { BrokerError, type ColdStore, type IdReservations } from '../../core/index.js';
import type { PartitionedLog } from '../../log/index.js';
import { message, tempPartitioned, type TempPartitioned } from '../../log/test-support/temp-partitioned.js';

export interface FencingStores {
  readonly reservations: IdReservations;
  readonly cold: ColdStore;
}

const CHUNK = 10;
const text = (body: Uint8Array | undefined): string => Buffer.from(body ?? []).toString('latin1');

/** A member owning nothing until it acquires, whose lease the test holds open (`gate`), acks replicated. */
function member(stores: FencingStores, gate: () => boolean): Promise<TempPartitioned> {
  return tempPartitioned({
    partitions: 1,
    owned: [],
    appendGate: gate,
    idReservations: stores.reservations,
    idReservationChunk: CHUNK,
    replica: { store: stores.cold, retentionMs: 3_600_000 },
    writeRetry: { firstMs: 20, maxMs: 40 },
  });
}

async function publish(log: PartitionedLog, subject: string, from: number, n: number, who: string): Promise<number[]> {
  const ids: number[] = [];
  for (let i = from; i < from + n; i++) ids.push(await log.append(message(subject, `${who}-${i}`)));
  return ids;
}

/**
 * Owner A at epoch 1 appends; B acquires at epoch 2 and appends (ids above A's reservation); A, stale (its lease
 * gate forced open, as if paused between its check and its write), appends one batch past its reservation. A's
 * appends must be refused NOT_OWNER with nothing acknowledged, the cold tier's rows for B's ids must still hold
 * B's records, and A must have given the partition up; B goes on.
 */
export async function fencedOwnerScenario(stores: FencingStores, subject: string): Promise<void> {
  const members: TempPartitioned[] = [];
  try {
    const a = await member(stores, () => true);
    members.push(a);
    await a.log.acquire(0, { epoch: 1 });
    assert.deepEqual(await publish(a.log, subject, 0, 3, 'A'), [1, 2, 3]);
    const reservedByA = (await stores.reservations.reserved(0)).get(subject) ?? 0;
    assert.equal(reservedByA, 1 + CHUNK, "A's reservation, raised at its first append");

    const b = await member(stores, () => true);
    members.push(b);
    await b.log.acquire(0, { epoch: 2 });
    const idsOfB = await publish(b.log, subject, 0, 3, 'B');
    assert.deepEqual(idsOfB, [reservedByA + 1, reservedByA + 2, reservedByA + 3], 'B starts above A');

    // A, stale, appends one batch that takes its head past its reservation (onto B's ids).
    const stale = await Promise.allSettled(
      Array.from({ length: CHUNK }, (_, i) => a.log.append(message(subject, `A-stale-${i}`))),
    );
    for (const id of idsOfB)
      assert.equal(text((await stores.cold.get(subject, id))?.body), `B-${id - reservedByA - 1}`, `row ${id} is B's`);
    assert.equal(await stores.cold.get(subject, 4), undefined, 'no row of the refused batch');
    for (const r of stale) {
      assert.equal(r.status, 'rejected', 'nothing of the stale batch is acknowledged');
      assert.ok(r.reason instanceof BrokerError && r.reason.reason === 'NOT_OWNER', String(r.reason));
    }
    assert.equal(
      (await stores.reservations.reserved(0)).get(subject),
      reservedByA + 1 + CHUNK,
      "B's reservation stands",
    );
    await waitFor(() => !a.log.owned.includes(0), 'A gives the partition up');
    await assert.rejects(
      a.log.append(message(subject, 'A-after')),
      (err: unknown) => err instanceof BrokerError && err.reason === 'NOT_OWNER',
    );

    assert.equal(await b.log.append(message(subject, 'B-3')), reservedByA + 4, 'B goes on');
    assert.equal(text((await stores.cold.get(subject, reservedByA + 4))?.body), 'B-3');
  } finally {
    await Promise.all(members.map((m) => m.dispose()));
  }
}

async function waitFor(done: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(done(), what);
}
