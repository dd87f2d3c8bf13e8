import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Log, SegmentInfo, SegmentQuery, SegmentRef } from '../../core/index.js';
import { message, tempPartitioned } from '../test-support/temp-partitioned.js';
import { tempLog } from '../test-support/temp-log.js';
import { compareSubjects } from './merge.js';

// Subjects whose byte order differs from JavaScript's string order (U+FFFD vs an astral character), prefixes of one
// another, and enough plain ones to spread over every partition.
const SUBJECTS = [
  'a',
  'a.b',
  'a.b.c',
  'ab',
  'b',
  'z\uFFFD',
  'z\u{1F600}',
  'émile',
  'orders.eu',
  'orders.us',
  ...Array.from({ length: 40 }, (_, i) => `s.${i}`),
];

/** Every page of subjects, `limit` at a time, following `after`. */
async function allSubjectPages(log: Log, limit: number, prefix?: string): Promise<string[][]> {
  const pages: string[][] = [];
  let after: string | undefined;
  for (;;) {
    const page = await log.listSubjects({
      limit,
      ...(after === undefined ? {} : { after }),
      ...(prefix === undefined ? {} : { prefix }),
    });
    if (page.length === 0) return pages;
    pages.push(page.map((s) => s.subject));
    after = page.at(-1)?.subject;
  }
}

/** Every page of a segment scan, `limit` at a time, following `after`. */
async function allSegmentPages(scan: (q: SegmentQuery) => Promise<SegmentInfo[]>, limit: number): Promise<string[][]> {
  const pages: string[][] = [];
  let after: SegmentRef | undefined;
  for (;;) {
    const page = await scan({ limit, ...(after === undefined ? {} : { after }) });
    if (page.length === 0) return pages;
    pages.push(page.map((s) => `${s.subject}@${s.baseOffset}`));
    const last = page.at(-1);
    after = last === undefined ? undefined : { subject: last.subject, baseOffset: last.baseOffset };
  }
}

/** The same appends into a partitioned log and into one LevelDbLog, which gives the order to match. */
async function bothLogs(): Promise<{ partitioned: Log; single: Log; dispose(): Promise<void> }> {
  const options = { segmentMaxRecords: 2 };
  const partitioned = await tempPartitioned({ partitions: 8, ...options });
  const single = await tempLog(options);
  for (const log of [partitioned.log, single.log]) {
    for (const [i, subject] of SUBJECTS.entries()) {
      // 1 to 5 records: 1 to 3 segments, the earlier ones sealed.
      await log.appendMany(Array.from({ length: (i % 5) + 1 }, (_, k) => message(subject, `${k}`)));
    }
  }
  return {
    partitioned: partitioned.log,
    single: single.log,
    async dispose() {
      await partitioned.dispose();
      await single.dispose();
    },
  };
}

describe('PartitionedLog listings across partitions', () => {
  it('should list subjects in the byte order of their UTF-8 with working after/prefix/limit paging, as one database does', async () => {
    const logs = await bothLogs();
    try {
      const sorted = [...SUBJECTS].sort(compareSubjects);
      assert.notDeepEqual(sorted, [...SUBJECTS].sort(), 'the set tells byte order from string order');
      for (const limit of [1, 3, 7, 100]) {
        const pages = await allSubjectPages(logs.partitioned, limit);
        assert.deepEqual(pages.flat(), sorted, `limit ${limit}`);
        assert.ok(pages.every((p) => p.length <= limit));
        assert.deepEqual(pages, await allSubjectPages(logs.single, limit), `limit ${limit}: the same pages`);
      }
      for (const prefix of ['a', 'a.b', 'orders.', 's.1', 'z', 'none']) {
        assert.deepEqual(
          await allSubjectPages(logs.partitioned, 2, prefix),
          await allSubjectPages(logs.single, 2, prefix),
        );
      }
      const [first] = await logs.partitioned.listSubjects({ limit: 1, after: 'orders.eu' });
      assert.deepEqual(first, await logs.single.subjectInfo('orders.us'), 'the full info of each subject');
    } finally {
      await logs.dispose();
    }
  });

  it('should scan all and unreplicated segments in (subject bytes, baseOffset) order with working after paging', async () => {
    const logs = await bothLogs();
    try {
      for (const limit of [1, 4, 1000]) {
        const all = await allSegmentPages((q) => logs.partitioned.allSegments(q), limit);
        assert.deepEqual(all, await allSegmentPages((q) => logs.single.allSegments(q), limit), `all, limit ${limit}`);
        const owed = await allSegmentPages((q) => logs.partitioned.unreplicatedSegments(q), limit);
        const single = await allSegmentPages((q) => logs.single.unreplicatedSegments(q), limit);
        assert.deepEqual(owed, single, `unreplicated, limit ${limit}`);
        assert.ok(owed.flat().length > 10, 'sealed segments to replicate in many partitions');
      }
      const sealed = await logs.partitioned.sealStaleSegments(Date.now() + 7_200_000);
      const sealedSingle = await logs.single.sealStaleSegments(Date.now() + 7_200_000);
      const names = (list: SegmentInfo[]): string[] => list.map((s) => `${s.subject}@${s.baseOffset}`).sort();
      assert.deepEqual(names(sealed), names(sealedSingle), 'stale segments sealed in every partition');
    } finally {
      await logs.dispose();
    }
  });
});
