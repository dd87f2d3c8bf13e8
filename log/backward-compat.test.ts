import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Log, SegmentInfo, SubjectInfo } from '../core/index.js';
import { openLog, type LogOptions } from './index.js';

const FIXTURE = fileURLToPath(new URL('./test-support/fixtures/v1-0f6d58d/', import.meta.url));

/** What the log of commit 0f6d58d served from the fixture right after writing it (expected.json). */
interface Expected {
  readonly subjects: string[];
  readonly unreplicated: string[];
  readonly [subject: string]: unknown;
}
interface ExpectedSubject {
  readonly info: SubjectInfo;
  readonly records: Array<{ offset: number; body: string; publishedAtMs: number; expirationSeconds: number }>;
  readonly segments: SegmentInfo[];
}

/** The settings the fixture was written with (see its README). */
const OPTIONS: Omit<LogOptions, 'dataDir'> = {
  fsync: 'batch',
  segmentMaxRecords: 3,
  segmentMaxBytes: 1 << 20,
  segmentMaxAgeMs: 3_600_000,
  tailCacheRecords: 64,
  tailCacheBytes: 1 << 20,
  subjectCacheSize: 100,
  now: () => 1_700_010_000_000,
};

/** A copy of the fixture's data dir: LevelDB writes on open, and the committed fixture must stay as it was written. */
async function openCopy(): Promise<{ log: Log; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'broker-log-v1-'));
  await cp(join(FIXTURE, 'leveldb'), dir, { recursive: true });
  return { log: await openLog({ ...OPTIONS, dataDir: dir }), dir };
}

async function served(log: Log, subject: string): Promise<ExpectedSubject> {
  const records = await log.readRange(subject, 1, { maxRecords: 1000, maxBytes: 1 << 20 });
  const info = await log.subjectInfo(subject);
  assert.ok(info !== undefined, `${subject} exists`);
  return {
    info,
    records: records.map((r) => ({
      offset: r.offset,
      body: Buffer.from(r.body).toString('utf8'),
      publishedAtMs: r.publishedAtMs,
      expirationSeconds: r.expirationSeconds,
    })),
    segments: await log.segments(subject),
  };
}

describe('LevelDbLog backward compatibility', () => {
  describe('when it opens a data dir written by the log of commit 0f6d58d (format version 1, no marker)', () => {
    it('should serve the same subjects, ids, bodies, first offsets and segments as that log did', async () => {
      const expected = JSON.parse(await readFile(join(FIXTURE, 'expected.json'), 'utf8')) as Expected;
      const { log, dir } = await openCopy();
      try {
        assert.deepEqual(
          (await log.listSubjects({ limit: 100 })).map((s) => s.subject),
          expected.subjects,
        );
        for (const subject of expected.subjects) assert.deepEqual(await served(log, subject), expected[subject]);
        assert.deepEqual(
          (await log.unreplicatedSegments({ limit: 100 })).map((s) => `${s.subject}@${s.baseOffset}`),
          expected.unreplicated,
        );
        // What the fixture's history implies, spelled out: deleted segments moved the first offsets, a deleted
        // record inside a segment is reported removed, and ids past the head were never published.
        const first = await Promise.all(expected.subjects.map(async (s) => (await log.subjectInfo(s))?.firstOffset));
        assert.deepEqual(first, [1, 1, 4, 4]);
        assert.deepEqual(await log.get('orders', 2), { kind: 'removed', firstOffset: 4 });
        assert.deepEqual(await log.get('orders', 8), { kind: 'removed', firstOffset: 4 });
        assert.deepEqual(await log.get('orders', 11), { kind: 'never', lastOffset: 10 });
        const found = await log.get('audit.é', 2);
        assert.equal(found.kind === 'record' && Buffer.from(found.record.body).toString(), 'audit.é#2');
      } finally {
        await log.close();
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('should give the next append to each subject the next id, also after reopening', async () => {
      const { log, dir } = await openCopy();
      let reopened: Log | undefined;
      try {
        const next = { 'audit.é': 3, order: 2, orders: 11, payments: 8 };
        for (const [subject, id] of Object.entries(next))
          assert.equal(await log.append({ subject, body: Buffer.from('new'), expirationSeconds: 0 }), id);
        await log.close();
        reopened = await openLog({ ...OPTIONS, dataDir: dir });
        for (const [subject, id] of Object.entries(next)) {
          assert.equal((await reopened.subjectInfo(subject))?.lastOffset, id);
          assert.equal(await reopened.append({ subject, body: Buffer.from('newer'), expirationSeconds: 0 }), id + 1);
        }
        // The dir is version 2 now: its version 1 records (no checksum) and the new ones (checksummed) read side by side.
        const expected = JSON.parse(await readFile(join(FIXTURE, 'expected.json'), 'utf8')) as Expected;
        for (const subject of expected.subjects) {
          const old = (expected[subject] as ExpectedSubject).records.map((r) => r.body);
          const records = await reopened.readRange(subject, 1, { maxRecords: 1000, maxBytes: 1 << 20 });
          assert.deepEqual(
            records.map((r) => Buffer.from(r.body).toString('utf8')),
            [...old, 'new', 'newer'],
            subject,
          );
        }
      } finally {
        await log.close();
        await reopened?.close();
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});
