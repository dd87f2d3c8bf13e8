import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { InvariantError, type ColdStore, type LogRecord, type SegmentInfo } from '../../core/index.js';
import { commitCases } from './cold-store-commit-contract.js';

/** A store for the contract to run against, and how to release it (drop a keyspace, close a client). */
export interface ColdStoreUnderTest {
  readonly store: ColdStore;
  dispose(): Promise<void>;
}

const HOUR_MS = 3_600_000;
const ALL = { maxRecords: 100_000, maxBytes: 1 << 30 } as const;

/** A subject no other test (or earlier run on a shared server) uses. */
const freshSubject = (name: string): string => `${name}.${randomBytes(4).toString('hex')}`;

interface SegmentSpec {
  readonly publishedAtMs?: number;
  /** Per offset; 0 follows the retention given to writeSegment. @defaultValue 0 */
  readonly expirationSeconds?: (offset: number) => number;
  /** Body size; absent: "<subject>-<offset>". */
  readonly bodyBytes?: number;
}

/** A sealed segment of `count` records from `base`, with the metadata the log would keep for it. */
export function sealedSegment(
  subject: string,
  base: number,
  count: number,
  spec: SegmentSpec = {},
): { info: SegmentInfo; records: LogRecord[] } {
  const publishedAtMs = spec.publishedAtMs ?? Date.now();
  const records = Array.from({ length: count }, (_, i) => ({
    subject,
    offset: base + i,
    body: spec.bodyBytes === undefined ? Buffer.from(`${subject}-${base + i}`) : Buffer.alloc(spec.bodyBytes, i),
    publishedAtMs,
    expirationSeconds: spec.expirationSeconds?.(base + i) ?? 0,
  }));
  const explicit = records.filter((r) => r.expirationSeconds > 0);
  return {
    records,
    info: {
      subject,
      baseOffset: base,
      lastOffset: base + count - 1,
      count,
      bytes: records.reduce((n, r) => n + r.body.length, 0),
      firstPublishMs: publishedAtMs,
      lastPublishMs: publishedAtMs,
      maxExplicitExpiryMs: Math.max(0, ...explicit.map((r) => r.publishedAtMs + r.expirationSeconds * 1000)),
      lastRetentionPublishMs: explicit.length < records.length ? publishedAtMs : 0,
      sealed: true,
      replicated: false,
    },
  };
}

export async function* inBatches(records: readonly LogRecord[], size = 40): AsyncIterable<LogRecord[]> {
  for (let i = 0; i < records.length; i += size) yield records.slice(i, i + size);
}

/** Records as a store returns them, comparable whatever byte container its bodies come in. */
const plain = (records: readonly (LogRecord | undefined)[]) =>
  records.map((r) => (r === undefined ? undefined : { ...r, body: Buffer.from(r.body).toString('hex') }));
const offsets = (records: readonly LogRecord[]): number[] => records.map((r) => r.offset);
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The ColdStore contract: what the replicator and the tiered reader rely on, run against every implementation
 * (the in-memory store of the tests and the Cassandra store of production), so a test on the memory store checks
 * behaviour production has. Each case uses its own subjects, so a store on a shared server is fine.
 */
export function coldStoreContract(implementation: string, open: () => Promise<ColdStoreUnderTest>): void {
  describe(`ColdStore contract: ${implementation}`, () => {
    let underTest: ColdStoreUnderTest | undefined;
    const store = (): ColdStore => {
      assert.ok(underTest !== undefined, 'the store opens before the cases run');
      return underTest.store;
    };
    before(async () => {
      underTest = await open();
    });
    after(async () => underTest?.dispose());

    writeCases(store);
    incompleteWriteCases(store);
    readCases(store);
    expiryCases(store);
    commitCases(store);
  });
}

function writeCases(store: () => ColdStore): void {
  describe('when a segment is written', () => {
    it('should resolve with the rows and body bytes written, and serve every record as it was given', async () => {
      const subject = freshSubject('write');
      const seg = sealedSegment(subject, 1, 10, { expirationSeconds: (o) => (o % 2 === 1 ? 3600 : 0) });
      assert.deepEqual(await store().writeSegment(seg.info, inBatches(seg.records, 3), 0), {
        rows: 10,
        bytes: seg.info.bytes,
      });
      const got = await Promise.all(seg.records.map((r) => store().get(subject, r.offset)));
      assert.deepEqual(plain(got), plain(seg.records));
    });

    it('should write the same rows again on a retry, with no duplicates', async () => {
      const subject = freshSubject('retry');
      const seg = sealedSegment(subject, 1, 50);
      const first = await store().writeSegment(seg.info, inBatches(seg.records, 3), 0);
      const second = await store().writeSegment(seg.info, inBatches(seg.records, 7), 0);
      assert.deepEqual(second, first);
      assert.deepEqual(plain(await store().readRange(subject, 1, 51, ALL)), plain(seg.records));
    });

    it('should neither write nor count records that had expired before the copy', async () => {
      const subject = freshSubject('expired');
      const seg = sealedSegment(subject, 1, 10, {
        publishedAtMs: Date.now() - 2 * HOUR_MS,
        expirationSeconds: (o) => (o % 2 === 0 ? 3600 : 0),
      });
      const written = await store().writeSegment(seg.info, inBatches(seg.records), 3 * HOUR_MS);
      const kept = seg.records.filter((r) => r.offset % 2 === 1);
      assert.deepEqual(written, { rows: kept.length, bytes: kept.reduce((n, r) => n + r.body.length, 0) });
      assert.deepEqual(offsets(await store().readRange(subject, 1, 11, ALL)), [1, 3, 5, 7, 9]);
      assert.equal(await store().get(subject, 2), undefined);

      const gone = sealedSegment(freshSubject('gone'), 1, 4, { publishedAtMs: Date.now() - 2 * HOUR_MS });
      assert.deepEqual(await store().writeSegment(gone.info, inBatches(gone.records), HOUR_MS), { rows: 0, bytes: 0 });
      assert.deepEqual(await store().readRange(gone.info.subject, 1, 5, ALL), []);
    });

    it('should refuse a record outside the segment as a broken invariant (a caller bug), and leave the segment unreadable', async () => {
      const subject = freshSubject('stray');
      const seg = sealedSegment(subject, 1, 10);
      const stray = sealedSegment(subject, 11, 1).records;
      await assert.rejects(
        store().writeSegment(seg.info, inBatches([...seg.records, ...stray]), 0),
        (err: unknown) => err instanceof InvariantError && err.reason === 'INTERNAL',
      );
      assert.equal(await store().get(subject, 1), undefined);
      assert.deepEqual(await store().readRange(subject, 1, 12, ALL), []);
    });
  });
}

/** Records in batches of 10 that stop before batch `at` until `release` is called (or throw there with `fail`). */
function stalled(records: readonly LogRecord[], at: number, mode: 'wait' | 'fail') {
  let release = (): void => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let reached = (): void => undefined;
  const stopped = new Promise<void>((resolve) => (reached = resolve));
  async function* batches(): AsyncIterable<LogRecord[]> {
    for (let i = 0; i < records.length; i += 10) {
      if (i / 10 === at) {
        reached();
        if (mode === 'fail') throw new Error('the log read failed halfway (injected)');
        await gate;
      }
      yield records.slice(i, i + 10);
    }
  }
  return { batches: batches(), stopped, release };
}

function incompleteWriteCases(store: () => ColdStore): void {
  describe('when a write has not completed', () => {
    it('should serve nothing of the segment while its records are still being written', async () => {
      const subject = freshSubject('pending');
      const seg = sealedSegment(subject, 1, 30);
      const source = stalled(seg.records, 2, 'wait');
      const writing = store().writeSegment(seg.info, source.batches, 0);
      await source.stopped;
      await sleep(300); // the first rows are acknowledged by now
      assert.equal(await store().get(subject, 1), undefined);
      assert.deepEqual(await store().readRange(subject, 1, 31, ALL), []);
      source.release();
      assert.equal((await writing).rows, 30);
      assert.deepEqual(offsets(await store().readRange(subject, 1, 31, ALL)), range(1, 30));
    });

    it('should leave nothing readable when the records fail midway, and serve every record after a retry', async () => {
      const subject = freshSubject('halfway');
      const seg = sealedSegment(subject, 1, 30);
      await assert.rejects(store().writeSegment(seg.info, stalled(seg.records, 2, 'fail').batches, 0));
      assert.equal(await store().get(subject, 5), undefined);
      assert.deepEqual(await store().readRange(subject, 1, 31, ALL), []);
      assert.equal((await store().writeSegment(seg.info, inBatches(seg.records), 0)).rows, 30);
      assert.deepEqual(offsets(await store().readRange(subject, 1, 31, ALL)), range(1, 30));
    });

    it('should keep serving a complete earlier copy when a later copy of it fails midway', async () => {
      const subject = freshSubject('recopy');
      const seg = sealedSegment(subject, 1, 30);
      await store().writeSegment(seg.info, inBatches(seg.records), 0);
      await assert.rejects(store().writeSegment(seg.info, stalled(seg.records, 1, 'fail').batches, 0));
      assert.deepEqual(plain(await store().readRange(subject, 1, 31, ALL)), plain(seg.records));
    });
  });
}

function readCases(store: () => ColdStore): void {
  describe('when reading', () => {
    // Segments 1-20, 21-40 and 61-80 of 100-byte bodies: 41-60 was never copied (a gap).
    const subject = freshSubject('multi');
    before(async () => {
      for (const base of [1, 21, 61]) {
        const seg = sealedSegment(subject, base, 20, { bodyBytes: 100 });
        await store().writeSegment(seg.info, inBatches(seg.records), 0);
      }
    });

    it('should get any offset of any segment, and nothing outside them', async () => {
      for (const offset of [1, 20, 21, 25, 40, 61, 80])
        assert.equal((await store().get(subject, offset))?.offset, offset);
      for (const offset of [0, 41, 60, 81]) assert.equal(await store().get(subject, offset), undefined);
      assert.equal(await store().get(freshSubject('nobody'), 1), undefined);
    });

    it('should read [from, before) across segments in offset order, skipping the gap', async () => {
      assert.deepEqual(offsets(await store().readRange(subject, 15, 70, ALL)), [...range(15, 40), ...range(61, 69)]);
      assert.deepEqual(offsets(await store().readRange(subject, 1, 21, ALL)), range(1, 20));
      assert.deepEqual(offsets(await store().readRange(subject, 45, 1000, { ...ALL, maxRecords: 3 })), [61, 62, 63]);
      assert.deepEqual(await store().readRange(subject, 81, 1000, ALL), []);
      assert.deepEqual(await store().readRange(subject, 10, 10, ALL), []);
      assert.deepEqual(await store().readRange(subject, 41, 61, ALL), []);
    });

    it('should stop at maxRecords and before the record that would pass maxBytes, but return at least one', async () => {
      assert.deepEqual(
        offsets(await store().readRange(subject, 15, 80, { maxRecords: 8, maxBytes: 1 << 20 })),
        range(15, 22),
      );
      assert.deepEqual(
        offsets(await store().readRange(subject, 18, 80, { maxRecords: 100, maxBytes: 450 })),
        range(18, 21),
      );
      assert.deepEqual(offsets(await store().readRange(subject, 18, 80, { maxRecords: 100, maxBytes: 1 })), [18]);
    });
  });
}

function expiryCases(store: () => ColdStore): void {
  describe('when records expire after the copy', () => {
    it('should stop serving each record once it expires (its TTL) and keep serving the others', async () => {
      const subject = freshSubject('ttl');
      // Odd offsets live one second; even ones follow a retention of 0 (kept for ever).
      const seg = sealedSegment(subject, 1, 6, { expirationSeconds: (o) => (o % 2 === 1 ? 1 : 0) });
      assert.equal((await store().writeSegment(seg.info, inBatches(seg.records), 0)).rows, 6);
      assert.equal((await store().get(subject, 1))?.offset, 1);
      // Whole-second TTLs: a row lives at most one second past its record's expiry.
      await sleep(2_500);
      assert.equal(await store().get(subject, 1), undefined);
      assert.equal((await store().get(subject, 2))?.offset, 2);
      assert.deepEqual(offsets(await store().readRange(subject, 1, 7, ALL)), [2, 4, 6]);
    });
  });
}
