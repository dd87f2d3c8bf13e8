import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { BrokerError, ConfigError, DEFAULT_PARTITIONS, exitCodeOf } from '../../core/index.js';
import { LevelDbLog } from '../leveldb-log.js';
import { TEST_LOG_DEFAULTS, body } from '../test-support/temp-log.js';
import { PARTITIONS_MARKER, ensurePartitionLayout, partitionDir, readPartitionLayout } from './layout.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'broker-layout-'));
  dirs.push(dir);
  return dir;
}

async function marker(dir: string): Promise<unknown> {
  return JSON.parse(await readFile(join(dir, PARTITIONS_MARKER), 'utf8')) as unknown;
}

/** A data dir as a broker from before partitions left it: one LevelDB at the root, with records. */
async function legacyDir(): Promise<string> {
  const dir = await tempDir();
  const log = await LevelDbLog.open({ ...TEST_LOG_DEFAULTS, dataDir: dir });
  await log.append({ subject: 'old', body: body('x'), expirationSeconds: 0 });
  await log.close();
  return dir;
}

describe('the partition layout of a data dir', () => {
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  describe('when the data dir is new', () => {
    it('should record the default partition count and the hash in the marker, and only that', async () => {
      const dir = join(await tempDir(), 'not-yet');
      const layout = await ensurePartitionLayout(dir);
      assert.deepEqual(layout, { dataDir: dir, partitions: DEFAULT_PARTITIONS, layout: 'partitions' });
      assert.deepEqual(await marker(dir), { partitions: DEFAULT_PARTITIONS, hash: 'fnv1a32' });
      assert.deepEqual(await readdir(dir), [PARTITIONS_MARKER], 'no temp file left, no partition created');
      assert.equal(partitionDir(layout, 7), join(dir, 'partitions', '0007'));
    });

    it('should record the requested count, and give it back on every later call', async () => {
      const dir = await tempDir();
      assert.equal((await ensurePartitionLayout(dir, 5)).partitions, 5);
      assert.equal((await ensurePartitionLayout(dir)).partitions, 5, "unset: the dir's count");
      assert.equal((await ensurePartitionLayout(dir, 5)).partitions, 5);
      assert.deepEqual(await marker(dir), { partitions: 5, hash: 'fnv1a32' });
    });

    it('should create one marker when processes race at first start, and refuse those asking another count', async () => {
      const dir = await tempDir();
      const results = await Promise.allSettled(
        Array.from({ length: 12 }, (_, i) => ensurePartitionLayout(dir, i % 2 === 0 ? 4 : 8)),
      );
      const counts = new Set(results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.partitions] : [])));
      assert.equal(counts.size, 1, 'every process that started sees the same count');
      const recorded = [...counts][0];
      assert.deepEqual(await marker(dir), { partitions: recorded, hash: 'fnv1a32' });
      for (const r of results) {
        if (r.status === 'rejected') assert.ok(r.reason instanceof ConfigError, String(r.reason));
      }
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 6, 'the six asking the recorded count');
      assert.deepEqual(await readdir(dir), [PARTITIONS_MARKER], 'no temp file left');
    });
  });

  describe('when BROKER_PARTITIONS differs from the marker', () => {
    it('should refuse with INVALID_CONFIG (exit 2), naming both values', async () => {
      const dir = await tempDir();
      await ensurePartitionLayout(dir, 16);
      const err = await ensurePartitionLayout(dir, 8).then(
        () => assert.fail('opened with another partition count'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof ConfigError);
      assert.equal(err.reason, 'INVALID_CONFIG');
      assert.equal(exitCodeOf(err.reason), 2);
      assert.match(err.message, /^BROKER_PARTITIONS: is 8, but the data dir .* has 16 partitions/);
      assert.deepEqual(await marker(dir), { partitions: 16, hash: 'fnv1a32' }, 'the marker is unchanged');
    });
  });

  describe('when the data dir was written before partitions (a LevelDB at its root)', () => {
    it('should adopt it as one partition at the root, recording so', async () => {
      const dir = await legacyDir();
      assert.deepEqual(await readPartitionLayout(dir), { dataDir: dir, partitions: 1, layout: 'root' });
      await assert.rejects(readFile(join(dir, PARTITIONS_MARKER)), /ENOENT/, 'reading the layout writes nothing');
      const layout = await ensurePartitionLayout(dir);
      assert.deepEqual(layout, { dataDir: dir, partitions: 1, layout: 'root' });
      assert.equal(partitionDir(layout, 0), dir);
      assert.deepEqual(await marker(dir), { partitions: 1, hash: 'fnv1a32', layout: 'root' });
      assert.deepEqual(await ensurePartitionLayout(dir, 1), layout);
    });

    it('should refuse BROKER_PARTITIONS other than 1, saying there is no repartitioning tool', async () => {
      for (const adopted of [false, true]) {
        const dir = await legacyDir();
        if (adopted) await ensurePartitionLayout(dir);
        const err = await ensurePartitionLayout(dir, 16).then(
          () => assert.fail('a legacy dir opened with 16 partitions'),
          (e: unknown) => e,
        );
        assert.ok(err instanceof ConfigError);
        assert.match(
          err.message,
          /^BROKER_PARTITIONS: is 16, .* without partitions .* stays 1: there is no repartitioning tool/,
        );
        if (!adopted) await assert.rejects(readFile(join(dir, PARTITIONS_MARKER)), /ENOENT/, 'no marker written');
      }
    });
  });

  describe('when the marker cannot be trusted', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['not JSON', '{"partitions": 4', /is not JSON/],
      ['another hash', '{"partitions": 4, "hash": "xxhash32"}', /names the hash "xxhash32"/],
      ['a count out of range', '{"partitions": 0, "hash": "fnv1a32"}', /not an integer from 1 to 1024/],
      ['an unknown layout', '{"partitions": 4, "hash": "fnv1a32", "layout": "flat"}', /unknown layout "flat"/],
    ];
    for (const [what, text, says] of cases) {
      it(`should refuse a marker with ${what} as STORAGE_UNREADABLE, saying why`, async () => {
        const dir = await tempDir();
        await writeFile(join(dir, PARTITIONS_MARKER), text);
        const err = await ensurePartitionLayout(dir).then(
          () => assert.fail('opened'),
          (e: unknown) => e,
        );
        assert.ok(err instanceof BrokerError);
        assert.equal(err.reason, 'STORAGE_UNREADABLE');
        assert.match(err.message, says);
        assert.equal(await readFile(join(dir, PARTITIONS_MARKER), 'utf8'), text, 'left as it was');
      });
    }

    it('should refuse partitions/ without a marker rather than guess its count', async () => {
      const dir = await tempDir();
      await mkdir(join(dir, 'partitions', '0003'), { recursive: true });
      await assert.rejects(ensurePartitionLayout(dir), /partitions\/ folder but no partitions\.json/);
    });

    it("should say the file system's error as STORAGE_UNREADABLE, with it as the cause", async () => {
      const file = join(await tempDir(), 'a-file');
      await writeFile(file, '');
      const err = await ensurePartitionLayout(file).then(
        () => assert.fail('opened a file as a data dir'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof BrokerError);
      assert.equal(err.reason, 'STORAGE_UNREADABLE');
      assert.match(String((err.cause as Error).message), /EEXIST/);
    });

    it('should refuse a BROKER_PARTITIONS out of range before touching the dir', async () => {
      const dir = join(await tempDir(), 'untouched');
      await assert.rejects(ensurePartitionLayout(dir, 2000), ConfigError);
      await assert.rejects(readdir(dir), /ENOENT/);
    });
  });
});
