// The clean hand-over scenarios (issue 13: ids stay dense across owners), run with the memory reservations
// (partitions/settle.test.ts) and with ScyllaDB's (partitions/settle.cql.test.ts): two members, each a partitioned
// log on real LevelDB in a data dir of its own, sharing one reservations store, handing a partition back and forth.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FencedError, type LogObserver } from '../../core/index.js';
import type { ReservationStoreUnderTest } from './reservation-scenarios.js';
import { message, subjectsCovering, tempPartitioned, type TempPartitioned } from './temp-partitioned.js';

const PARTITIONS = 4;
const CHUNK = 100;

interface Member {
  readonly ctx: TempPartitioned;
  /** The lost ranges its recovery reported: [subject, from, to]. */
  readonly losses: Array<[string, number, number]>;
  /** The ranges its recovery reported as another owner's, handed over (not lost): [subject, from, to]. */
  readonly elsewhere: Array<[string, number, number]>;
}

/** The lost ranges reported for `subject` (the store holds the other tests' subjects too). */
function lossesOf(member: Member, subject: string): Array<[string, number, number]> {
  return member.losses.filter(([s]) => s === subject);
}

/** The ranges reported for `subject` as issued by an owner that handed the partition over. */
function elsewhereOf(member: Member, subject: string): Array<[string, number, number]> {
  return member.elsewhere.filter(([s]) => s === subject);
}

async function publish(member: Member, subject: string, n: number): Promise<number[]> {
  const ids: number[] = [];
  // One at a time: several batches, so the reservation is raised while the member appends.
  for (let i = 0; i < n; i++) ids.push(await member.ctx.log.append(message(subject, `${subject}-${i}`)));
  return ids;
}

export function handOverScenarios(name: string, open: () => Promise<ReservationStoreUnderTest>): void {
  describe(`${name}: a partition handed over between members`, () => {
    let under: ReservationStoreUnderTest;
    const members: Member[] = [];
    before(async () => {
      under = await open();
    });
    after(async () => {
      await Promise.all(members.map((m) => m.ctx.dispose()));
      await under.dispose();
    });

    /** A member owning nothing until it acquires, its appends gated by nothing (the lease is the test's). */
    async function member(): Promise<Member> {
      const losses: Array<[string, number, number]> = [];
      const elsewhere: Array<[string, number, number]> = [];
      const observer: LogObserver = {
        batchWritten: () => undefined,
        appendAcknowledged: () => undefined,
        dataLost: (subject, from, to) => losses.push([subject, from, to]),
        idsHandedOver: (subject, from, to) => elsewhere.push([subject, from, to]),
      };
      const ctx = await tempPartitioned({
        partitions: PARTITIONS,
        owned: [],
        appendGate: () => true,
        idReservations: under.store,
        idReservationChunk: CHUNK,
        observer,
      });
      const m = { ctx, losses, elsewhere };
      members.push(m);
      return m;
    }

    /** A subject of its own (the store is shared by the tests) and its partition. */
    function subject(log: TempPartitioned['log']): { s: string; p: number } {
      const prefix = `h${Math.random().toString(36).slice(2, 8)}.`;
      const [s] = subjectsCovering(PARTITIONS, 1, (x) => log.partitionOf(x), prefix);
      assert.ok(s !== undefined);
      return { s, p: log.partitionOf(s) };
    }

    const clean = { settleWhile: () => true };
    /** How a member acquires a partition its previous owner released after a clean hand-over. */
    const handedOver = { handedOver: true };

    it('should continue at exactly the last id + 1 on the next owner, and on the first again after the second appended', async () => {
      const a = await member();
      const b = await member();
      const { s, p } = subject(a.ctx.log);
      await a.ctx.log.acquire(p);
      assert.deepEqual(await publish(a, s, 7), [1, 2, 3, 4, 5, 6, 7]);
      await a.ctx.log.release(p, clean);
      assert.equal((await under.store.reserved(p)).get(s), 7, 'settled to the last id');

      await b.ctx.log.acquire(p, handedOver);
      assert.deepEqual(await publish(b, s, 5), [8, 9, 10, 11, 12], 'no id skipped');
      // The ids b's disk does not hold are the first owner's (the cold tier serves them), none above: not lost.
      assert.deepEqual(elsewhereOf(b, s), [[s, 1, 7]]);
      assert.deepEqual(lossesOf(b, s), [], 'a hand-over is no data loss');
      assert.equal((await b.ctx.log.get(s, 7)).kind, 'lost', 'still not served from this disk (the cold tier has it)');
      assert.equal((await b.ctx.log.get(s, 8)).kind, 'record');
      await b.ctx.log.release(p, clean);
      assert.equal((await under.store.reserved(p)).get(s), 12);

      // a's disk had reserved 7 + CHUNK: settled down to 7, so b's 8..12 are not issued again.
      await a.ctx.log.acquire(p, handedOver);
      assert.deepEqual(await publish(a, s, 2), [13, 14]);
      assert.deepEqual(elsewhereOf(a, s), [[s, 8, 12]], "only b's ids, which a's disk does not hold");
      await a.ctx.log.release(p, clean);
      await a.ctx.log.acquire(p, handedOver);
      assert.deepEqual(await publish(a, s, 1), [15], 'the same member continues exactly too');
      assert.equal(elsewhereOf(a, s).length, 1);
      assert.deepEqual(lossesOf(a, s), []);
      await a.ctx.log.release(p);
    });

    it('should skip to the reservation after a release without settling (a lost lease, as a crash)', async () => {
      const a = await member();
      const b = await member();
      const { s, p } = subject(a.ctx.log);
      await a.ctx.log.acquire(p);
      await publish(a, s, 3);
      const reserved = (await under.store.reserved(p)).get(s) ?? 0;
      assert.ok(reserved > 3);
      await a.ctx.log.release(p);
      await b.ctx.log.acquire(p);
      assert.deepEqual(await publish(b, s, 1), [reserved + 1]);
      assert.deepEqual(lossesOf(b, s), [[s, 1, reserved]], 'taken over after a lost lease: possibly lost');
      assert.deepEqual(elsewhereOf(b, s), []);
      assert.equal((await b.ctx.log.get(s, reserved)).kind, 'lost');
      await b.ctx.log.release(p);
    });

    it('should not settle once the lease is no longer held, and say why', async () => {
      const a = await member();
      const { s, p } = subject(a.ctx.log);
      await a.ctx.log.acquire(p);
      await publish(a, s, 2);
      const errors: Error[] = [];
      await a.ctx.log.release(p, { settleWhile: () => false, onSettleError: (err) => errors.push(err) });
      assert.equal(errors.length, 1);
      assert.equal((await under.store.reserved(p)).get(s), 1 + CHUNK, 'as reserved at the first append');
      await a.ctx.log.acquire(p);
      assert.deepEqual(await publish(a, s, 1), [3], 'its own disk still continues exactly (nothing was lowered)');
      await a.ctx.log.release(p);
    });

    it("should refuse a stale owner's settle once the next owner fenced its epoch, keeping that owner's reservation", async () => {
      const a = await member();
      const b = await member();
      const { s, p } = subject(a.ctx.log);
      await a.ctx.log.acquire(p, { epoch: 1 });
      await publish(a, s, 3);
      // b takes the partition from a lapsed lease (a, paused, still believes it holds it).
      await b.ctx.log.acquire(p, { epoch: 2 });
      assert.deepEqual(await publish(b, s, 1), [2 + CHUNK], "above a's reservation");
      const errors: Error[] = [];
      await a.ctx.log.release(p, { settleWhile: () => true, onSettleError: (err) => errors.push(err) });
      assert.ok(errors[0] instanceof FencedError, String(errors[0]));
      assert.equal((await under.store.reserved(p)).get(s), 2 + 2 * CHUNK, "b's reservation stands");
      await b.ctx.log.release(p, clean);
      assert.equal((await under.store.reserved(p)).get(s), 2 + CHUNK, 'b, the owner, settles');
    });

    it('should not open a partition acquired under an epoch below its fence', async () => {
      const a = await member();
      const b = await member();
      const { s, p } = subject(a.ctx.log);
      await a.ctx.log.acquire(p, { epoch: 5 });
      await publish(a, s, 1);
      await assert.rejects(b.ctx.log.acquire(p, { epoch: 4 }), FencedError);
      await assert.rejects(b.ctx.log.append(message(s, 'stale')), FencedError);
      assert.deepEqual(await publish(a, s, 1), [2], 'the owner at the fence goes on');
      await b.ctx.log.release(p);
      await a.ctx.log.release(p);
    });
  });
}
