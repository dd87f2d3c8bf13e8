import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { StorageFullError, SubjectLimitError, partitionOf, partitionsOfWorker } from '../../core/index.js';
import { openLog, verifyDataDir } from '../index.js';
import { LevelDbLog } from '../leveldb-log.js';
import { TEST_LOG_DEFAULTS, tempLog } from '../test-support/temp-log.js';
import { message, subjectsCovering, tempPartitioned } from '../test-support/temp-partitioned.js';
import { PARTITIONS_MARKER } from './layout.js';

const P = 6;

/** Every record of every subject, as "subject id body". */
async function everything(log: { readRange: LevelDbLog['readRange'] }, subjects: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const subject of subjects) {
    for (const r of await log.readRange(subject, 1, { maxRecords: 1000, maxBytes: 1 << 20 }))
      out.push(`${subject} ${r.offset} ${r.body}`);
  }
  return out;
}

describe('PartitionedLog ownership and adoption', () => {
  it('should keep every record and every id when the split of partitions between processes changes', async () => {
    const ctx = await tempPartitioned({ partitions: P, owned: partitionsOfWorker(0, 2, P) });
    try {
      const subjects = subjectsCovering(P, 2, (s) => partitionOf(s, P));
      const expected: string[] = [];
      const appendOwned = async (round: number): Promise<void> => {
        for (const subject of subjects.filter((s) => ctx.log.owns(s))) {
          const id = await ctx.log.append(message(subject, `r${round}`));
          expected.push(`${subject} ${id} r${round}`);
        }
      };
      // Two workers one after the other (as a restart with N = 2 would), then three, then one owning everything.
      await appendOwned(1);
      await ctx.reopen({ owned: partitionsOfWorker(1, 2, P) });
      await appendOwned(1);
      for (let w = 0; w < 3; w++) {
        await ctx.reopen({ owned: partitionsOfWorker(w, 3, P) });
        await appendOwned(2);
      }
      await ctx.reopen({ owned: [5, 1, 1] });
      await appendOwned(3);
      const all = await ctx.reopen({ owned: undefined });
      assert.deepEqual((await everything(all, subjects)).sort(), expected.sort());
      for (const subject of subjects) {
        const last = (await all.subjectInfo(subject))?.lastOffset ?? 0;
        assert.ok(last >= 2, `${subject}: ${last}`);
        assert.equal(await all.append(message(subject, 'next')), last + 1, `${subject}: ids continue`);
      }
      const report = await verifyDataDir(ctx.dir);
      assert.deepEqual(report.problems, []);
      assert.equal(report.subjects, subjects.length);
      assert.match(report.lines.at(-1) ?? '', /^clean: \d+ subjects, \d+ records \(6 partitions, 6 with data\)$/);
    } finally {
      await ctx.dispose();
    }
  });

  it('should adopt a data dir from before partitions with its records and ids intact, at its root', async () => {
    const old = await tempLog({ segmentMaxRecords: 3 });
    const subjects = ['orders', 'payments', 'audit.log'];
    const expected: string[] = [];
    for (const subject of subjects) {
      for (let i = 1; i <= 7; i++) {
        const id = await old.log.append(message(subject, `old${i}`));
        expected.push(`${subject} ${id} old${i}`);
      }
    }
    await old.log.close();
    try {
      await assert.rejects(
        openLog({ ...TEST_LOG_DEFAULTS, dataDir: old.dir, partitions: 16 }),
        /no repartitioning tool/,
      );
      let log = await openLog({ ...TEST_LOG_DEFAULTS, dataDir: old.dir });
      assert.equal(log.partitions, 1);
      assert.equal(log.maxOpenFiles, 256 + 1, 'one database: as before partitions');
      assert.deepEqual(JSON.parse(await readFile(join(old.dir, PARTITIONS_MARKER), 'utf8')), {
        partitions: 1,
        hash: 'fnv1a32',
        layout: 'root',
      });
      assert.deepEqual((await everything(log, subjects)).sort(), expected.sort());
      assert.equal(await log.append(message('orders', 'new')), 8);
      assert.equal(await log.append(message('fresh', 'new')), 1);
      await log.close();
      log = await openLog({ ...TEST_LOG_DEFAULTS, dataDir: old.dir, partitions: 1 });
      assert.equal((await log.subjectInfo('orders'))?.lastOffset, 8);
      await log.close();
      assert.ok(!(await readdir(old.dir)).includes('partitions'), 'the database stays at the root');
      assert.deepEqual((await verifyDataDir(old.dir)).problems, []);
    } finally {
      old.log = await LevelDbLog.open({ ...TEST_LOG_DEFAULTS, dataDir: old.dir });
      await old.dispose();
    }
  });

  it('should hold BROKER_MAX_SUBJECTS and BROKER_MAX_TOTAL_BYTES over all partitions together', async () => {
    const ctx = await tempPartitioned({
      partitions: P,
      maxSubjects: 3,
      limits: { maxSubjectBytes: 0, maxTotalBytes: 10, discard: 'refuse', minFreeBytes: 0 },
    });
    try {
      const [a, b, c, d] = subjectsCovering(P, 1, (s) => partitionOf(s, P));
      for (const subject of [a, b, c]) await ctx.log.append(message(subject ?? '', 'xx'));
      await assert.rejects(ctx.log.append(message(d ?? '', 'x')), SubjectLimitError);
      await ctx.log.append(message(a ?? '', 'xxx'));
      await assert.rejects(ctx.log.append(message(b ?? '', 'xx')), (err: unknown) => {
        assert.ok(err instanceof StorageFullError);
        assert.equal(err.limit, 'BROKER_MAX_TOTAL_BYTES');
        assert.equal(err.bytes, 9);
        return true;
      });
      // Counted again from the disk at open.
      const log = await ctx.reopen();
      await assert.rejects(log.append(message(d ?? '', 'x')), SubjectLimitError);
      await assert.rejects(log.append(message(c ?? '', 'xx')), StorageFullError);
      assert.equal(await log.append(message(c ?? '', 'x')), 2);
    } finally {
      await ctx.dispose();
    }
  });

  it("should give a process owning some partitions its owned partitions' share of a total", async () => {
    const ctx = await tempPartitioned({ partitions: P, owned: [0, 1, 2], maxSubjects: 4 });
    try {
      const mine = subjectsCovering(P, 2, (s) => partitionOf(s, P)).filter((s) => ctx.log.owns(s));
      for (const subject of mine.slice(0, 2)) await ctx.log.append(message(subject, 'x'));
      // ceil(4 subjects * 3 of 6 partitions) = 2.
      await assert.rejects(ctx.log.append(message(mine[2] ?? '', 'x')), /holds 2 subjects/);
      // LevelDB's 256 files split over 6 partitions is below its floor of 74 per database; plus each side file.
      assert.equal(ctx.log.maxOpenFiles, 3 * (74 + 1));
    } finally {
      await ctx.dispose();
    }
  });
});
