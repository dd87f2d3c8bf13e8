import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { NotOwnerError, partitionOf, type SegmentInfo } from '../../core/index.js';
import { LevelDbLog } from '../leveldb-log.js';
import { TEST_LOG_DEFAULTS } from '../test-support/temp-log.js';
import { message, subjectsCovering, tempPartitioned } from '../test-support/temp-partitioned.js';
import { PARTITIONS_MARKER, partitionName } from './layout.js';

const P = 4;

describe('PartitionedLog', () => {
  describe('when subjects are appended to', () => {
    it('should keep each subject in the database of its partition, always the same one', async () => {
      const ctx = await tempPartitioned({ partitions: P });
      try {
        const subjects = subjectsCovering(P, 2, (s) => partitionOf(s, P));
        for (const subject of subjects) {
          assert.equal(await ctx.log.append(message(subject, `${subject}-1`)), 1);
          assert.equal(ctx.log.partitionOf(subject), partitionOf(subject, P));
        }
        await ctx.reopen();
        for (const subject of subjects) assert.equal(await ctx.log.append(message(subject, `${subject}-2`)), 2);
        await ctx.log.close();
        assert.deepEqual(await ctx.partitionDirs(), ['0000', '0001', '0002', '0003']);
        // Each partition's own database holds exactly its subjects.
        for (let p = 0; p < P; p++) {
          const db = await LevelDbLog.open({
            ...TEST_LOG_DEFAULTS,
            dataDir: join(ctx.dir, 'partitions', partitionName(p)),
          });
          try {
            const listed = (await db.listSubjects({ limit: 100 })).map((s) => s.subject);
            const expected = subjects.filter((s) => partitionOf(s, P) === p);
            assert.deepEqual(new Set(listed), new Set(expected));
            for (const s of expected) assert.equal((await db.subjectInfo(s))?.lastOffset, 2);
          } finally {
            await db.close();
          }
        }
      } finally {
        await ctx.dispose();
      }
    });

    it('should answer a batch across partitions with the ids in input order, each subject dense', async () => {
      const ctx = await tempPartitioned({ partitions: P });
      try {
        const [a, b, c] = subjectsCovering(P, 1, (s) => partitionOf(s, P)) as [string, string, string];
        await ctx.log.append(message(a, 'before'));
        const ids = await ctx.log.appendBatch([
          message(a, 'a2'),
          message(b, 'b1'),
          message(c, 'c1'),
          message(a, 'a3'),
          message(b, 'b2'),
        ]);
        assert.deepEqual(ids, [2, 1, 1, 3, 2]);
        assert.deepEqual(await ctx.log.appendMany([message(c, 'c2'), message(c, 'c3')]), [2, 3]);
        const got = await ctx.log.readRange(a, 1, { maxRecords: 10, maxBytes: 1 << 20 });
        assert.deepEqual(
          got.map((r) => r.body.toString()),
          ['before', 'a2', 'a3'],
        );
        assert.deepEqual(await ctx.log.appendBatch([]), []);
      } finally {
        await ctx.dispose();
      }
    });

    it('should hand out ids in call order to appends made while the partition is being created', async () => {
      const ctx = await tempPartitioned({ partitions: P });
      try {
        const ids = await Promise.all(Array.from({ length: 50 }, (_, i) => ctx.log.append(message('order', `m${i}`))));
        assert.deepEqual(
          ids,
          Array.from({ length: 50 }, (_, i) => i + 1),
        );
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when a partition has no dir yet', () => {
    it('should answer reads as an empty log and create nothing; the first append creates that partition only', async () => {
      const ctx = await tempPartitioned({ partitions: P, segmentMaxRecords: 2 });
      try {
        const { log } = ctx;
        assert.deepEqual(await log.get('nothing', 1), { kind: 'never', lastOffset: 0 });
        assert.deepEqual(await log.readRange('nothing', 1, { maxRecords: 10, maxBytes: 1 << 20 }), []);
        assert.equal(await log.subjectInfo('nothing'), undefined);
        assert.deepEqual(await log.segments('nothing'), []);
        assert.equal(await log.segment({ subject: 'nothing', baseOffset: 1 }), undefined);
        assert.deepEqual(await log.deleteSegment({ subject: 'nothing', baseOffset: 1 }), { records: 0, bytes: 0 });
        for await (const batch of log.readSegment({ subject: 'nothing', baseOffset: 1 }))
          assert.fail(`read ${batch.length}`);
        await log.markReplicated({ subject: 'nothing', baseOffset: 1 });
        assert.deepEqual(await log.listSubjects({ limit: 10 }), []);
        assert.deepEqual(await log.allSegments({ limit: 10 }), []);
        assert.deepEqual(await log.sealStaleSegments(Date.now() + 1e9), []);
        assert.equal(await log.expireIdempotencyKeys(Date.now()), 0);
        assert.deepEqual(await ctx.partitionDirs(), [], 'no partition was created');
        await log.append(message('first', 'x'));
        assert.deepEqual(await ctx.partitionDirs(), [partitionName(partitionOf('first', P))]);
        assert.deepEqual(JSON.parse(await readFile(join(ctx.dir, PARTITIONS_MARKER), 'utf8')), {
          partitions: P,
          hash: 'fnv1a32',
        });
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when a subject is in a partition this process does not own', () => {
    it('should refuse every call on it with NotOwnerError naming the partition and its owner, appending nothing', async () => {
      const owner = (p: number): string => `worker ${p % 2}`;
      const ctx = await tempPartitioned({ partitions: P, owned: [0, 2], ownerName: owner });
      try {
        const { log } = ctx;
        const [mine, theirs] = ['a', 'b', 'c', 'd', 'e', 'f'].reduce<[string[], string[]]>(
          ([m, t], s) => (partitionOf(s, P) % 2 === 0 ? [[...m, s], t] : [m, [...t, s]]),
          [[], []],
        );
        const other = theirs[0] ?? assert.fail('no subject of an odd partition');
        const own = mine[0] ?? assert.fail('no subject of an even partition');
        assert.equal(log.owns(other), false);
        assert.equal(log.owns(own), true);
        const refusals = [
          log.append(message(other, 'x')),
          log.appendBatch([message(own, 'x'), message(other, 'y')]),
          log.appendMany([message(other, 'x')]),
          log.get(other, 1),
          log.readRange(other, 1, { maxRecords: 1, maxBytes: 1 << 20 }),
          log.tail(other, 'live'),
          log.subjectInfo(other),
          log.segments(other),
          log.deleteSegment({ subject: other, baseOffset: 1 }),
        ];
        for (const refused of refusals) {
          const err = await (refused as Promise<unknown>).then(
            () => assert.fail('served a subject of another worker'),
            (e: unknown) => e,
          );
          assert.ok(err instanceof NotOwnerError, String(err));
          assert.equal(err.reason, 'NOT_OWNER');
          assert.equal(err.partition, partitionOf(other, P));
          assert.equal(err.owner, owner(partitionOf(other, P)));
          assert.match(err.message, new RegExp(`"${other}" is in partition \\d, owned by worker 1`));
        }
        assert.equal(await log.subjectInfo(own), undefined, 'the refused batch appended nothing');
        const dirs = await ctx.partitionDirs();
        assert.ok(
          dirs.every((d) => Number(d) % 2 === 0),
          `only owned partitions were created: ${dirs.join(', ')}`,
        );
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when segments are sealed', () => {
    it('should tell a listener of seals in every partition, also those created after it subscribed', async () => {
      const ctx = await tempPartitioned({ partitions: P, segmentMaxRecords: 1 });
      try {
        const heard: SegmentInfo[] = [];
        const stop = ctx.log.onSegmentSealed((s) => heard.push(s));
        const subjects = subjectsCovering(P, 1, (s) => partitionOf(s, P));
        for (const subject of subjects) {
          await ctx.log.append(message(subject, '1'));
          await ctx.log.append(message(subject, '2'));
        }
        assert.deepEqual(
          heard.map((s) => `${s.subject}@${s.baseOffset}`),
          subjects.map((s) => `${s}@1`),
        );
        stop();
        for (const subject of subjects) await ctx.log.append(message(subject, '3'));
        assert.equal(heard.length, subjects.length, 'nothing heard after unsubscribing');
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('when it is closed', () => {
    it('should close every partition: each database can be opened again, and appends are refused', async () => {
      const ctx = await tempPartitioned({ partitions: P });
      const subjects = subjectsCovering(P, 1, (s) => partitionOf(s, P));
      for (const subject of subjects) await ctx.log.append(message(subject, 'x'));
      const cursor = await ctx.log.tail(subjects[0] ?? '', 'live');
      await ctx.log.close();
      assert.deepEqual(await cursor.next(), [], 'cursors end');
      await assert.rejects(ctx.log.append(message(subjects[1] ?? '', 'after')));
      for (let p = 0; p < P; p++) {
        const dir = join(ctx.dir, 'partitions', partitionName(p));
        assert.ok((await stat(dir)).isDirectory());
        const db = await LevelDbLog.open({ ...TEST_LOG_DEFAULTS, dataDir: dir });
        await db.close();
      }
      await ctx.reopen();
      await ctx.dispose();
    });
  });
});
