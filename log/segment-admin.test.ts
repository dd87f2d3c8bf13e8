import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SegmentNotSealedError, type Log } from '../core/index.js';
import { decodeSegment, encodeSegment } from './codec.js';
import { Family, offsetKey, subjectPrefix } from './keys.js';
import { LevelDbLog } from './leveldb-log.js';
import { createDb, type Db } from './storage.js';
import { TEST_LOG_DEFAULTS, body, tempLog } from './test-support/temp-log.js';

/** The database in `dir`, counting point reads (get, getMany) and iterators (iterator, keys, values). */
function countingReads(dir: string, reads: { gets: number; iterators: number }): Db {
  const real = createDb(dir);
  return new Proxy(real, {
    get(target, prop) {
      // Bound to the real database: its methods use private fields, which a proxy does not have.
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      const method = (value as (...a: unknown[]) => unknown).bind(target);
      if (prop === 'get' || prop === 'getMany') reads.gets += 1;
      if (prop === 'iterator' || prop === 'keys' || prop === 'values') reads.iterators += 1;
      return method;
    },
  });
}

describe('LevelDbLog', () => {
  describe('when records are deleted', () => {
    it('should advance the first offset, report removed ids, and never reuse ids, also after reopening', async () => {
      const ctx = await tempLog({ segmentMaxRecords: 5 });
      try {
        for (let i = 1; i <= 12; i++) await ctx.log.append({ subject: 's', body: body(`m${i}`), expirationSeconds: 0 });
        assert.deepEqual(await ctx.log.deleteSegment({ subject: 's', baseOffset: 1 }), { records: 5, bytes: 10 });
        assert.equal((await ctx.log.subjectInfo('s'))?.firstOffset, 6);
        assert.deepEqual(await ctx.log.get('s', 3), { kind: 'removed', firstOffset: 6 });
        const removed = await ctx.log.deleteRecords({ subject: 's', baseOffset: 6 }, (r) => r.offset <= 8);
        assert.deepEqual(removed, { records: 3, bytes: 6 });
        assert.equal((await ctx.log.subjectInfo('s'))?.firstOffset, 9);
        assert.equal((await ctx.log.segments('s'))[0]?.count, 2);
        const info = await ctx.log.subjectInfo('s');
        assert.deepEqual([info?.count, info?.lastOffset], [4, 12]);
        await assert.rejects(ctx.log.deleteSegment({ subject: 's', baseOffset: 11 }), /not sealed/);

        const log = await ctx.reopen();
        assert.equal((await log.subjectInfo('s'))?.firstOffset, 9);
        assert.equal(await log.append({ subject: 's', body: body('m13'), expirationSeconds: 0 }), 13);
        const range = await log.readRange('s', 1, { maxRecords: 100, maxBytes: 1 << 20 });
        assert.deepEqual(
          range.map((r) => r.offset),
          [9, 10, 11, 12, 13],
        );
      } finally {
        await ctx.dispose();
      }
    });

    it('should finish a segment deletion that a crash interrupted when it reopens', async () => {
      const ctx = await tempLog({ segmentMaxRecords: 3 });
      try {
        for (let i = 0; i < 7; i++) await ctx.log.append({ subject: 's', body: body(`m${i}`), expirationSeconds: 0 });
        await ctx.log.close();
        // What deleteSegment leaves behind if the process dies after marking the segment: flag and marker, records intact.
        const db = createDb(ctx.dir);
        const segmentKey = offsetKey(subjectPrefix(Family.segment, 's'), 1);
        const segment = decodeSegment((await db.get(segmentKey))!);
        await db.batch([
          { type: 'put', key: segmentKey, value: encodeSegment({ ...segment, deleting: true }) },
          { type: 'put', key: offsetKey(subjectPrefix(Family.deleting, 's'), 1), value: Buffer.alloc(0) },
        ]);
        await db.close();
        const log = await ctx.reopen();
        assert.deepEqual(
          (await log.segments('s')).map((x) => x.baseOffset),
          [4, 7],
        );
        assert.equal((await log.subjectInfo('s'))?.firstOffset, 4);
        assert.deepEqual(await log.get('s', 2), { kind: 'removed', firstOffset: 4 });
        assert.deepEqual(
          (await log.unreplicatedSegments({ limit: 10 })).map((x) => x.baseOffset),
          [4],
        );
        assert.equal(await log.append({ subject: 's', body: body('m7'), expirationSeconds: 0 }), 8);
      } finally {
        await ctx.dispose();
      }
    });

    it('should continue after the last id when every record is gone', async () => {
      const ctx = await tempLog({ segmentMaxRecords: 2 });
      try {
        for (let i = 0; i < 4; i++) await ctx.log.append({ subject: 's', body: body('x'), expirationSeconds: 0 });
        await ctx.log.sealStaleSegments(Date.now() + 10 * 3_600_000);
        for (const s of await ctx.log.segments('s'))
          await ctx.log.deleteSegment({ subject: 's', baseOffset: s.baseOffset });
        assert.deepEqual(await ctx.log.subjectInfo('s'), {
          subject: 's',
          firstOffset: 5,
          lastOffset: 4,
          count: 0,
          bytes: 0,
          segments: 0,
          sealedSegments: 0,
          replicatedSegments: 0,
        });
        const log = await ctx.reopen();
        assert.equal(await log.append({ subject: 's', body: body('y'), expirationSeconds: 0 }), 5);
        assert.equal((await log.subjectInfo('s'))?.firstOffset, 5);
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when one segment is looked up', () => {
    it('should find it in memory, or with one point read when its subject is not loaded', async () => {
      const ctx = await tempLog({ segmentMaxRecords: 2 });
      for (let i = 1; i <= 5; i++) await ctx.log.append({ subject: 's', body: body(`m${i}`), expirationSeconds: 0 });
      await ctx.log.deleteSegment({ subject: 's', baseOffset: 1 });
      const inMemory = await ctx.log.segment({ subject: 's', baseOffset: 3 });
      assert.deepEqual(inMemory, (await ctx.log.segments('s'))[0]);
      assert.deepEqual([inMemory?.lastOffset, inMemory?.count, inMemory?.sealed], [4, 2, true]);
      await ctx.log.close();

      const reads = { gets: 0, iterators: 0 };
      const log = await LevelDbLog.open({ ...TEST_LOG_DEFAULTS, dataDir: ctx.dir }, countingReads(ctx.dir, reads));
      try {
        reads.gets = 0;
        reads.iterators = 0;
        assert.deepEqual(await log.segment({ subject: 's', baseOffset: 3 }), inMemory);
        assert.deepEqual(reads, { gets: 1, iterators: 0 }, 'one point read, no subject load');
        assert.equal(await log.segment({ subject: 's', baseOffset: 1 }), undefined, 'deleted');
        assert.equal(await log.segment({ subject: 's', baseOffset: 4 }), undefined, 'not a base offset');
        assert.equal(await log.segment({ subject: 'nope', baseOffset: 1 }), undefined, 'unknown subject');
        assert.equal((await log.segment({ subject: 's', baseOffset: 5 }))?.sealed, false);
      } finally {
        await log.close();
        await ctx.dispose();
      }
    });
  });

  describe('when a segment operation needs a sealed segment', () => {
    it('should refuse markReplicated, deleteSegment and deleteRecords on the active one and change nothing', async () => {
      const ctx = await tempLog();
      try {
        for (let i = 1; i <= 2; i++) await ctx.log.append({ subject: 's', body: body(`m${i}`), expirationSeconds: 0 });
        const ref = { subject: 's', baseOffset: 1 };
        const before = await ctx.log.segments('s');
        const operations = [
          () => ctx.log.markReplicated(ref),
          () => ctx.log.deleteSegment(ref),
          () => ctx.log.deleteRecords(ref, () => true),
        ];
        for (const operation of operations) {
          await assert.rejects(operation(), (err: unknown) => {
            assert.ok(err instanceof SegmentNotSealedError);
            assert.deepEqual([err.subject, err.baseOffset, err.reason], ['s', 1, 'INTERNAL']);
            assert.equal(err.message, 'segment s@1 is not sealed');
            return true;
          });
        }
        assert.deepEqual(await ctx.log.segments('s'), before);
        assert.equal((await ctx.log.readRange('s', 1, { maxRecords: 10, maxBytes: 1 << 20 })).length, 2);
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when appends, seals, deletions and reopens come in any order', () => {
    it('should keep segment metadata in agreement with the stored records and never reuse an id', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(OP, { minLength: 1, maxLength: 25 }), async (ops) => {
          const now = 10_000_000;
          const ctx = await tempLog({ segmentMaxRecords: 4, subjectCacheSize: 16, now: () => now });
          const model: Model = { last: new Map(), gone: new Map() };
          try {
            for (const o of ops) await applyOp(ctx, o, model, now);
            for (const subject of ['a', 'b']) await checkSubject(ctx.log, subject, model);
          } finally {
            await ctx.dispose();
          }
        }),
        { numRuns: 30 },
      );
    });
  });
});

const OP = fc.oneof(
  fc.record({
    kind: fc.constant('append' as const),
    subject: fc.constantFrom('a', 'b'),
    n: fc.integer({ min: 1, max: 9 }),
    ttl: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('seal' as const) }),
  fc.record({
    kind: fc.constant('deleteRecords' as const),
    subject: fc.constantFrom('a', 'b'),
    pick: fc.nat(),
    mod: fc.integer({ min: 1, max: 4 }),
  }),
  fc.record({ kind: fc.constant('deleteSegment' as const), subject: fc.constantFrom('a', 'b'), pick: fc.nat() }),
  fc.record({ kind: fc.constant('reopen' as const) }),
);
type Op = typeof OP extends fc.Arbitrary<infer T> ? T : never;

/** What the log should hold: per subject, the last id handed out and the ids deleted. */
interface Model {
  last: Map<string, number>;
  gone: Map<string, Set<number>>;
}

function goneOf(model: Model, subject: string): Set<number> {
  let gone = model.gone.get(subject);
  if (gone === undefined) model.gone.set(subject, (gone = new Set()));
  return gone;
}

async function applyOp(ctx: Awaited<ReturnType<typeof tempLog>>, o: Op, model: Model, now: number): Promise<void> {
  if (o.kind === 'append') {
    const ids = await Promise.all(
      Array.from({ length: o.n }, () =>
        ctx.log.append({ subject: o.subject, body: body('x'), expirationSeconds: o.ttl ? 5 : 0 }),
      ),
    );
    const before = model.last.get(o.subject) ?? 0;
    assert.deepEqual(
      ids,
      Array.from({ length: o.n }, (_, i) => before + i + 1),
    );
    model.last.set(o.subject, before + o.n);
  } else if (o.kind === 'seal') {
    await ctx.log.sealStaleSegments(now + 10 * 3_600_000);
  } else if (o.kind === 'reopen') {
    await ctx.reopen({ now: () => now });
  } else {
    const sealed = (await ctx.log.segments(o.subject)).filter((x) => x.sealed);
    const target = sealed[o.pick % Math.max(1, sealed.length)];
    if (target === undefined) return;
    const gone = goneOf(model, o.subject);
    if (o.kind === 'deleteSegment') {
      await ctx.log.deleteSegment({ subject: o.subject, baseOffset: target.baseOffset });
      for (let id = target.baseOffset; id <= target.lastOffset; id++) gone.add(id);
    } else {
      await ctx.log.deleteRecords({ subject: o.subject, baseOffset: target.baseOffset }, (r) => r.offset % o.mod === 0);
      for (let id = target.baseOffset; id <= target.lastOffset; id++) if (id % o.mod === 0) gone.add(id);
    }
  }
}

async function checkSubject(log: Log, subject: string, model: Model): Promise<void> {
  const lastOffset = model.last.get(subject) ?? 0;
  const info = await log.subjectInfo(subject);
  if (lastOffset === 0) {
    assert.equal(info, undefined);
    return;
  }
  const gone = goneOf(model, subject);
  const stored = await log.readRange(subject, 1, { maxRecords: 1000, maxBytes: 1 << 20 });
  const expected = Array.from({ length: lastOffset }, (_, i) => i + 1).filter((id) => !gone.has(id));
  assert.deepEqual(
    stored.map((r) => r.offset),
    expected,
  );
  const segments = await log.segments(subject);
  assert.equal(
    segments.reduce((n, x) => n + x.count, 0),
    expected.length,
    'segment counts agree with the records',
  );
  assert.deepEqual(
    [info?.lastOffset, info?.firstOffset, info?.count],
    [lastOffset, expected[0] ?? lastOffset + 1, expected.length],
  );
  for (const id of [0, 1, lastOffset, lastOffset + 1]) {
    const found = await log.get(subject, id);
    const want = id < 1 || id > lastOffset ? 'never' : gone.has(id) ? 'removed' : 'record';
    assert.equal(found.kind, want, `get(${subject}, ${id})`);
  }
  assert.equal(await log.append({ subject, body: body('next'), expirationSeconds: 0 }), lastOffset + 1);
}
