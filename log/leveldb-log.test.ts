import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClassicLevel } from 'classic-level';
import fc from 'fast-check';
import { decodeSegment, encodeSegment } from './codec.js';
import { Family, offsetKey, subjectPrefix } from './keys.js';
import { LevelDbLog } from './leveldb-log.js';
import type { Db } from './storage.js';
import { TEST_LOG_DEFAULTS, body, tempLog } from './test-support/temp-log.js';

describe('LevelDbLog', () => {
  describe('when appends run concurrently', () => {
    it('should give each subject dense ids from 1 in call order', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.constantFrom('a', 'b', 'c.d', 'é'), { minLength: 1, maxLength: 300 }),
          async (subjects) => {
            const ctx = await tempLog();
            try {
              const ids = await Promise.all(
                subjects.map((subject, i) => ctx.log.append({ subject, body: body(`m${i}`), expirationSeconds: 0 })),
              );
              const next = new Map<string, number>();
              subjects.forEach((subject, i) => {
                const expected = (next.get(subject) ?? 0) + 1;
                next.set(subject, expected);
                assert.equal(ids[i], expected);
              });
              for (const [subject, last] of next) {
                const all = await ctx.log.readRange(subject, 1, { maxRecords: 10_000, maxBytes: 1 << 30 });
                assert.deepEqual(
                  all.map((r) => r.offset),
                  Array.from({ length: last }, (_, k) => k + 1),
                );
              }
            } finally {
              await ctx.dispose();
            }
          },
        ),
        { numRuns: 15 },
      );
    });

    it('should refuse an appendMany that names more than one subject, appending nothing', async () => {
      const ctx = await tempLog();
      try {
        await assert.rejects(
          ctx.log.appendMany([
            { subject: 'a', body: body('1'), expirationSeconds: 0 },
            { subject: 'b', body: body('2'), expirationSeconds: 0 },
          ]),
          { name: 'InvalidArgumentError', message: 'appendMany appends to one subject: got "a" and "b"' },
        );
        assert.equal(await ctx.log.subjectInfo('a'), undefined);
      } finally {
        await ctx.dispose();
      }
    });

    it('should assign consecutive ids to appendMany in input order', async () => {
      const ctx = await tempLog();
      try {
        await ctx.log.append({ subject: 's', body: body('x'), expirationSeconds: 0 });
        const ids = await ctx.log.appendMany(
          ['a', 'b', 'c'].map((t) => ({ subject: 's', body: body(t), expirationSeconds: 0 })),
        );
        assert.deepEqual(ids, [2, 3, 4]);
        const rec = await ctx.log.get('s', 3);
        assert.equal(rec.kind, 'record');
        if (rec.kind === 'record') assert.equal(Buffer.from(rec.record.body).toString(), 'b');
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when reading by offset', () => {
    it('should tell a record from a never-published id and keep publish time and expiration', async () => {
      let now = 1_000_000;
      const ctx = await tempLog({ now: () => now });
      try {
        await ctx.log.append({ subject: 's', body: body('one'), expirationSeconds: 30 });
        now += 5;
        await ctx.log.append({ subject: 's', body: body('two'), expirationSeconds: 0 });
        const first = await ctx.log.get('s', 1);
        assert.deepEqual(
          first.kind === 'record' && { ...first.record, body: Buffer.from(first.record.body).toString() },
          {
            subject: 's',
            offset: 1,
            body: 'one',
            publishedAtMs: 1_000_000,
            expirationSeconds: 30,
          },
        );
        assert.deepEqual(await ctx.log.get('s', 0), { kind: 'never', lastOffset: 2 });
        assert.deepEqual(await ctx.log.get('s', 3), { kind: 'never', lastOffset: 2 });
        assert.deepEqual(await ctx.log.get('nope', 1), { kind: 'never', lastOffset: 0 });
      } finally {
        await ctx.dispose();
      }
    });

    it('should page a range by count and by bytes, returning at least one record', async () => {
      const ctx = await tempLog();
      try {
        for (let i = 0; i < 50; i++)
          await ctx.log.append({ subject: 's', body: Buffer.alloc(100, i), expirationSeconds: 0 });
        const byCount = await ctx.log.readRange('s', 10, { maxRecords: 5, maxBytes: 1 << 20 });
        assert.deepEqual(
          byCount.map((r) => r.offset),
          [10, 11, 12, 13, 14],
        );
        const byBytes = await ctx.log.readRange('s', 45, { maxRecords: 100, maxBytes: 250 });
        assert.deepEqual(
          byBytes.map((r) => r.offset),
          [45, 46],
        );
        const tiny = await ctx.log.readRange('s', 1, { maxRecords: 100, maxBytes: 1 });
        assert.deepEqual(
          tiny.map((r) => r.offset),
          [1],
        );
        assert.deepEqual(await ctx.log.readRange('s', 51, { maxRecords: 10, maxBytes: 1000 }), []);
      } finally {
        await ctx.dispose();
      }
    });

    it('should not mix subjects that are prefixes of each other', async () => {
      const ctx = await tempLog();
      try {
        await ctx.log.append({ subject: 'a', body: body('a1'), expirationSeconds: 0 });
        await ctx.log.append({ subject: 'ab', body: body('ab1'), expirationSeconds: 0 });
        await ctx.log.append({ subject: 'a', body: body('a2'), expirationSeconds: 0 });
        const a = await ctx.log.readRange('a', 1, { maxRecords: 10, maxBytes: 1000 });
        assert.deepEqual(
          a.map((r) => Buffer.from(r.body).toString()),
          ['a1', 'a2'],
        );
        const subjects = await ctx.log.listSubjects({ limit: 10 });
        assert.deepEqual(
          subjects.map((s) => [s.subject, s.lastOffset]),
          [
            ['a', 2],
            ['ab', 1],
          ],
        );
        assert.deepEqual(
          (await ctx.log.listSubjects({ prefix: 'ab', limit: 10 })).map((s) => s.subject),
          ['ab'],
        );
        assert.deepEqual(
          (await ctx.log.listSubjects({ after: 'a', limit: 10 })).map((s) => s.subject),
          ['ab'],
        );
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when segments roll', () => {
    it('should roll by record count, bytes and age, sealing the previous segment', async () => {
      let now = 0;
      const sealed: number[] = [];
      const ctx = await tempLog({ segmentMaxRecords: 3, segmentMaxBytes: 250, segmentMaxAgeMs: 1000, now: () => now });
      try {
        ctx.log.onSegmentSealed((s) => sealed.push(s.baseOffset));
        for (let i = 0; i < 7; i++)
          await ctx.log.append({ subject: 's', body: Buffer.alloc(10), expirationSeconds: 0 });
        assert.deepEqual(
          (await ctx.log.segments('s')).map((s) => [s.baseOffset, s.lastOffset, s.sealed]),
          [
            [1, 3, true],
            [4, 6, true],
            [7, 7, false],
          ],
        );
        await ctx.log.append({ subject: 'b', body: Buffer.alloc(200), expirationSeconds: 0 });
        await ctx.log.append({ subject: 'b', body: Buffer.alloc(100), expirationSeconds: 0 });
        assert.deepEqual(
          (await ctx.log.segments('b')).map((s) => [s.baseOffset, s.count, s.bytes]),
          [
            [1, 1, 200],
            [2, 1, 100],
          ],
        );
        now = 1500;
        await ctx.log.append({ subject: 's', body: Buffer.alloc(10), expirationSeconds: 0 });
        assert.deepEqual(
          (await ctx.log.segments('s')).map((s) => s.baseOffset),
          [1, 4, 7, 8],
        );
        now = 5000;
        const stale = await ctx.log.sealStaleSegments(now);
        assert.deepEqual(stale.map((s) => [s.subject, s.baseOffset]).sort(), [
          ['b', 2],
          ['s', 8],
        ]);
        assert.deepEqual(
          sealed.sort((x, y) => x - y),
          [1, 1, 2, 4, 7, 8],
        );
        const unreplicated = await ctx.log.unreplicatedSegments({ limit: 100 });
        assert.deepEqual(
          unreplicated.map((s) => `${s.subject}@${s.baseOffset}`),
          ['b@1', 'b@2', 's@1', 's@4', 's@7', 's@8'],
        );
        await ctx.log.markReplicated({ subject: 's', baseOffset: 4 });
        assert.deepEqual(
          (await ctx.log.unreplicatedSegments({ limit: 100 })).map((s) => `${s.subject}@${s.baseOffset}`),
          ['b@1', 'b@2', 's@1', 's@7', 's@8'],
        );
        const reopened = await ctx.reopen({ now: () => now });
        const segs = await reopened.segments('s');
        assert.deepEqual(
          segs.map((s) => [s.baseOffset, s.sealed, s.replicated, s.count]),
          [
            [1, true, false, 3],
            [4, true, true, 3],
            [7, true, false, 1],
            [8, true, false, 1],
          ],
        );
      } finally {
        await ctx.dispose();
      }
    });

    it('should seal only segments whose first record is older than the maximum age', async () => {
      let now = 1_000;
      const ctx = await tempLog({ segmentMaxAgeMs: 1000, now: () => now });
      try {
        await ctx.log.append({ subject: 'old', body: body('a'), expirationSeconds: 0 });
        now = 1_600;
        await ctx.log.append({ subject: 'young', body: body('b'), expirationSeconds: 0 });
        assert.deepEqual(
          (await ctx.log.sealStaleSegments(1_999)).map((s) => s.subject),
          [],
        );
        assert.deepEqual(
          (await ctx.log.sealStaleSegments(2_000)).map((s) => s.subject),
          ['old'],
        );
        assert.deepEqual(
          (await ctx.log.sealStaleSegments(2_000)).map((s) => s.subject),
          [],
        );
        const log = await ctx.reopen();
        assert.deepEqual(
          (await log.sealStaleSegments(2_600)).map((s) => s.subject),
          ['young'],
        );
        assert.deepEqual(
          (await log.allSegments({ limit: 10 })).map((s) => [s.subject, s.sealed]),
          [
            ['old', true],
            ['young', true],
          ],
        );
      } finally {
        await ctx.dispose();
      }
    });

    it('should record the latest explicit expiry and the last retention-bound publish', async () => {
      let now = 10_000;
      const ctx = await tempLog({ now: () => now });
      try {
        await ctx.log.append({ subject: 's', body: body('a'), expirationSeconds: 5 });
        now = 11_000;
        await ctx.log.append({ subject: 's', body: body('b'), expirationSeconds: 0 });
        now = 12_000;
        await ctx.log.append({ subject: 's', body: body('c'), expirationSeconds: 1 });
        const [seg] = await ctx.log.segments('s');
        assert.equal(seg?.maxExplicitExpiryMs, 15_000);
        assert.equal(seg?.lastRetentionPublishMs, 11_000);
        assert.equal(seg?.firstPublishMs, 10_000);
        assert.equal(seg?.lastPublishMs, 12_000);
      } finally {
        await ctx.dispose();
      }
    });
  });

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
        const db = new ClassicLevel<Buffer, Buffer>(ctx.dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
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

  describe('when appends, seals, deletions and reopens come in any order', () => {
    it('should keep segment metadata in agreement with the stored records and never reuse an id', async () => {
      const op = fc.oneof(
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
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
          const now = 10_000_000;
          const ctx = await tempLog({ segmentMaxRecords: 4, subjectCacheSize: 16, now: () => now });
          const last = new Map<string, number>();
          const gone = new Map<string, Set<number>>([
            ['a', new Set()],
            ['b', new Set()],
          ]);
          try {
            for (const o of ops) {
              if (o.kind === 'append') {
                const ids = await Promise.all(
                  Array.from({ length: o.n }, () =>
                    ctx.log.append({ subject: o.subject, body: body('x'), expirationSeconds: o.ttl ? 5 : 0 }),
                  ),
                );
                const before = last.get(o.subject) ?? 0;
                assert.deepEqual(
                  ids,
                  Array.from({ length: o.n }, (_, i) => before + i + 1),
                );
                last.set(o.subject, before + o.n);
              } else if (o.kind === 'seal') {
                await ctx.log.sealStaleSegments(now + 10 * 3_600_000);
              } else if (o.kind === 'reopen') {
                await ctx.reopen({ now: () => now });
              } else {
                const sealed = (await ctx.log.segments(o.subject)).filter((x) => x.sealed);
                const target = sealed[o.pick % Math.max(1, sealed.length)];
                if (target === undefined) continue;
                if (o.kind === 'deleteSegment') {
                  await ctx.log.deleteSegment({ subject: o.subject, baseOffset: target.baseOffset });
                  for (let id = target.baseOffset; id <= target.lastOffset; id++) gone.get(o.subject)!.add(id);
                } else {
                  await ctx.log.deleteRecords(
                    { subject: o.subject, baseOffset: target.baseOffset },
                    (r) => r.offset % o.mod === 0,
                  );
                  for (let id = target.baseOffset; id <= target.lastOffset; id++)
                    if (id % o.mod === 0) gone.get(o.subject)!.add(id);
                }
              }
            }
            for (const subject of ['a', 'b']) {
              const lastOffset = last.get(subject) ?? 0;
              const info = await ctx.log.subjectInfo(subject);
              if (lastOffset === 0) {
                assert.equal(info, undefined);
                continue;
              }
              const stored = await ctx.log.readRange(subject, 1, { maxRecords: 1000, maxBytes: 1 << 20 });
              const expected = Array.from({ length: lastOffset }, (_, i) => i + 1).filter(
                (id) => !gone.get(subject)!.has(id),
              );
              assert.deepEqual(
                stored.map((r) => r.offset),
                expected,
              );
              const segments = await ctx.log.segments(subject);
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
                const found = await ctx.log.get(subject, id);
                const want = id < 1 || id > lastOffset ? 'never' : gone.get(subject)!.has(id) ? 'removed' : 'record';
                assert.equal(found.kind, want, `get(${subject}, ${id})`);
              }
              assert.equal(await ctx.log.append({ subject, body: body('next'), expirationSeconds: 0 }), lastOffset + 1);
            }
          } finally {
            await ctx.dispose();
          }
        }),
        { numRuns: 30 },
      );
    });
  });

  describe('when there are more subjects than the subject cache holds', () => {
    it('should evict idle subjects and reload them with their offsets intact', async () => {
      const ctx = await tempLog({ subjectCacheSize: 16 });
      try {
        for (let round = 1; round <= 3; round++) {
          await Promise.all(
            Array.from({ length: 200 }, (_, i) =>
              ctx.log.append({ subject: `s${i}`, body: body('x'), expirationSeconds: 0 }),
            ),
          );
        }
        for (let i = 0; i < 200; i += 37) {
          const info = await ctx.log.subjectInfo(`s${i}`);
          assert.deepEqual([info?.firstOffset, info?.lastOffset, info?.count], [1, 3, 3]);
        }
        assert.equal(await ctx.log.append({ subject: 's0', body: body('x'), expirationSeconds: 0 }), 4);
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when a subject is not in memory', () => {
    it('should keep call order for appends that arrive while its state loads', async () => {
      const ctx = await tempLog({ subjectCacheSize: 16 });
      try {
        await Promise.all(
          Array.from({ length: 40 }, (_, i) =>
            ctx.log.append({ subject: `s${i}`, body: body('x'), expirationSeconds: 0 }),
          ),
        );
        // s0 has been evicted: these calls wait for its state, interleaved with calls made from microtasks.
        const calls: Array<Promise<number>> = [];
        const order: string[] = [];
        for (let i = 0; i < 20; i++) {
          const tag = `m${i}`;
          order.push(tag);
          calls.push(
            i % 2 === 0
              ? ctx.log.append({ subject: 's0', body: body(tag), expirationSeconds: 0 })
              : ctx.log.appendMany([{ subject: 's0', body: body(tag), expirationSeconds: 0 }]).then((ids) => ids[0]!),
          );
          await Promise.resolve();
        }
        const ids = await Promise.all(calls);
        assert.deepEqual(
          ids,
          Array.from({ length: 20 }, (_, i) => i + 2),
        );
        const stored = await ctx.log.readRange('s0', 2, { maxRecords: 100, maxBytes: 1 << 20 });
        assert.deepEqual(
          stored.map((r) => Buffer.from(r.body).toString()),
          order,
        );
      } finally {
        await ctx.dispose();
      }
    });

    it('should never give out an offset twice when every other cached subject is pinned by a cursor', async () => {
      const ctx = await tempLog({ subjectCacheSize: 16 });
      try {
        const cursors = await Promise.all(Array.from({ length: 16 }, (_, i) => ctx.log.tail(`busy${i}`, 'live')));
        // Appends to one subject, one per event-loop turn, while its state can only be held by those appends.
        const pending: Array<Promise<number>> = [];
        for (let i = 0; i < 60; i++) {
          pending.push(ctx.log.append({ subject: 'idle', body: body(`m${i}`), expirationSeconds: 0 }));
          await new Promise((resolve) => setImmediate(resolve));
        }
        assert.deepEqual(
          await Promise.all(pending),
          Array.from({ length: 60 }, (_, i) => i + 1),
        );
        for (const cursor of cursors) cursor.close();
        const stored = await ctx.log.readRange('idle', 1, { maxRecords: 100, maxBytes: 1 << 20 });
        assert.deepEqual(
          stored.map((r) => Buffer.from(r.body).toString()),
          Array.from({ length: 60 }, (_, i) => `m${i}`),
        );
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when a batch write fails', () => {
    it('should reject its appends, fail closed, and leave no hole in the ids after reopening', async () => {
      const ctx = await tempLog();
      await ctx.log.close();
      let failWrites = false;
      const real: Db = new ClassicLevel<Buffer, Buffer>(ctx.dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
      // The real database, except that chained batches fail to write while failWrites is set (a full disk, say).
      const db = new Proxy(real, {
        get(target, prop) {
          if (prop !== 'batch') {
            // Bound to the real database: its methods use private fields, which a proxy does not have.
            const value = Reflect.get(target, prop, target) as unknown;
            return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
          }
          return (...args: unknown[]) => {
            if (args.length > 0) return (target.batch as (...a: unknown[]) => unknown)(...args);
            const batch = target.batch();
            return new Proxy(batch, {
              get(b, p) {
                if (p === 'write' && failWrites) return () => Promise.reject(new Error('No space left on device'));
                const value = Reflect.get(b, p, b) as unknown;
                return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(b) : value;
              },
            });
          };
        },
      });
      const log = await LevelDbLog.open({ ...TEST_LOG_DEFAULTS, dataDir: ctx.dir }, db);
      try {
        assert.deepEqual(
          await Promise.all([1, 2].map(() => log.append({ subject: 's', body: body('ok'), expirationSeconds: 0 }))),
          [1, 2],
        );
        failWrites = true;
        const failed = await Promise.allSettled(
          [3, 4, 5].map(() => log.append({ subject: 's', body: body('lost'), expirationSeconds: 0 })),
        );
        for (const result of failed) {
          assert.equal(result.status, 'rejected');
          assert.match(
            String((result as PromiseRejectedResult).reason),
            /UnavailableError: the log failed a write and refuses more: No space left on device/,
          );
        }
        await assert.rejects(log.append({ subject: 't', body: body('later'), expirationSeconds: 0 }), {
          name: 'UnavailableError',
        });
      } finally {
        await log.close();
      }
      const reopened = await ctx.reopen();
      assert.equal((await reopened.subjectInfo('s'))?.lastOffset, 2);
      assert.equal(await reopened.append({ subject: 's', body: body('next'), expirationSeconds: 0 }), 3);
      await ctx.dispose();
    });
  });

  describe('when a seal listener throws', () => {
    it('should keep writing and acknowledging appends', async () => {
      const ctx = await tempLog({ segmentMaxRecords: 2 });
      const warnings: string[] = [];
      const onWarning = (w: Error): void => {
        warnings.push(w.message);
      };
      process.on('warning', onWarning);
      try {
        ctx.log.onSegmentSealed(() => {
          throw new Error('listener bug');
        });
        const ids = await Promise.all(
          Array.from({ length: 5 }, () => ctx.log.append({ subject: 's', body: body('x'), expirationSeconds: 0 })),
        );
        assert.deepEqual(ids, [1, 2, 3, 4, 5]);
        assert.equal(await ctx.log.append({ subject: 's', body: body('y'), expirationSeconds: 0 }), 6);
        await new Promise((resolve) => setImmediate(resolve));
        assert.ok(warnings.includes('listener bug'), `warnings: ${warnings.join(', ')}`);
      } finally {
        process.off('warning', onWarning);
        await ctx.dispose();
      }
    });
  });

  describe('when closed', () => {
    it('should write every accepted append first and refuse new ones', async () => {
      const ctx = await tempLog();
      const pending = Array.from({ length: 100 }, () =>
        ctx.log.append({ subject: 's', body: body('x'), expirationSeconds: 0 }),
      );
      await ctx.log.close();
      assert.equal((await Promise.all(pending)).length, 100);
      await assert.rejects(ctx.log.append({ subject: 's', body: body('x'), expirationSeconds: 0 }), {
        name: 'UnavailableError',
      });
      const log = await ctx.reopen();
      assert.equal((await log.subjectInfo('s'))?.lastOffset, 100);
      await ctx.dispose();
    });
  });
});
