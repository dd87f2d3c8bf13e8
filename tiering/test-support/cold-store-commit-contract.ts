import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { InvariantError, type ColdStore, type CommitSegment, type LogRecord } from '../../core/index.js';

const ALL = { maxRecords: 100_000, maxBytes: 1 << 30 } as const;
const HOUR_MS = 3_600_000;

const freshSubject = (name: string): string => `${name}.${randomBytes(4).toString('hex')}`;
const offsets = (records: readonly LogRecord[]): number[] => records.map((r) => r.offset);
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const plain = (records: readonly (LogRecord | undefined)[]) =>
  records.map((r) => (r === undefined ? undefined : { ...r, body: Buffer.from(r.body).toString('hex') }));

/** Records [from, to] of `subject`, each body `bodyBytes` long (or "<subject>-<offset>"). */
function records(subject: string, from: number, to: number, bodyBytes?: number, publishedAtMs = Date.now()) {
  return range(from, to).map((offset) => ({
    subject,
    offset,
    body: bodyBytes === undefined ? Buffer.from(`${subject}-${offset}`) : Buffer.alloc(bodyBytes, offset),
    publishedAtMs,
    expirationSeconds: 0,
  }));
}

const commit = (subject: string, baseOffset: number, rs: LogRecord[]): CommitSegment => ({
  subject,
  baseOffset,
  records: rs,
});

/**
 * ColdStore.writeCommit (BROKER_ACKS=replicated): the records of group commits to an active segment are found by id
 * at once, without the segment ever being sealed; run by coldStoreContract against every implementation.
 */
export function commitCases(store: () => ColdStore): void {
  describe('when commits of an active segment are written (acks replicated)', () => {
    it('should serve every committed record by id and by range, though the segment was never sealed', async () => {
      const subject = freshSubject('active');
      const first = records(subject, 1, 5);
      // Many 1 KiB records: more than one CQL batch.
      const second = records(subject, 6, 300, 1024);
      await store().writeCommit([commit(subject, 1, first)], 0);
      assert.deepEqual(plain([await store().get(subject, 5)]), plain([first[4]]));
      assert.equal(await store().get(subject, 6), undefined, 'not committed yet');
      await store().writeCommit([commit(subject, 1, second)], 0);
      const got = await Promise.all([1, 5, 6, 150, 300].map((o) => store().get(subject, o)));
      assert.deepEqual(
        got.map((r) => r?.offset),
        [1, 5, 6, 150, 300],
      );
      assert.deepEqual(plain(await store().readRange(subject, 1, 301, ALL)), plain([...first, ...second]));
      assert.equal(await store().get(subject, 301), undefined);
    });

    it('should write a commit across a roll under each segment, and be replaced by the sealed copy with the same rows', async () => {
      const subject = freshSubject('roll');
      const older = records(subject, 1, 4);
      const newer = records(subject, 5, 7);
      await store().writeCommit([commit(subject, 1, older), commit(subject, 5, newer)], HOUR_MS);
      assert.deepEqual(offsets(await store().readRange(subject, 1, 8, ALL)), range(1, 7));
      const sealed = {
        subject,
        baseOffset: 1,
        lastOffset: 4,
        count: 4,
        bytes: older.reduce((n, r) => n + r.body.length, 0),
        firstPublishMs: older[0]?.publishedAtMs ?? 0,
        lastPublishMs: older[0]?.publishedAtMs ?? 0,
        maxExplicitExpiryMs: 0,
        lastRetentionPublishMs: older[0]?.publishedAtMs ?? 0,
        sealed: true,
        replicated: false,
      };
      async function* once(): AsyncIterable<LogRecord[]> {
        yield older;
      }
      assert.equal((await store().writeSegment(sealed, once(), HOUR_MS)).rows, 4);
      assert.deepEqual(plain(await store().readRange(subject, 1, 8, ALL)), plain([...older, ...newer]));
    });

    it('should not write records that had expired before the commit', async () => {
      const subject = freshSubject('expiredcommit');
      const old = records(subject, 1, 3, undefined, Date.now() - 2 * HOUR_MS);
      await store().writeCommit([commit(subject, 1, old)], HOUR_MS);
      assert.equal(await store().get(subject, 1), undefined);
      assert.deepEqual(await store().readRange(subject, 1, 4, ALL), []);
    });

    it('should refuse a record below its segment as a broken invariant (a caller bug)', async () => {
      const subject = freshSubject('straycommit');
      await assert.rejects(
        store().writeCommit([commit(subject, 5, records(subject, 4, 6))], 0),
        (err: unknown) => err instanceof InvariantError,
      );
    });
  });
}
