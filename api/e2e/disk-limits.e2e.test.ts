// Issue 11: a 20 MiB volume filled in 2 s and the broker could not even restart on the full disk, so compaction
// never ran. With a free-space floor the broker refuses publishes with RESOURCE_EXHAUSTED / STORAGE_FULL before the
// file system is full, loses nothing acknowledged, restarts on that disk, and compaction frees the space so that
// publishes are accepted again. The data dir is on a real 20 MiB tmpfs.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  failure,
  fetchMessage,
  publish,
  startBrokerProcess,
  type BrokerProcess,
} from '../test-support/broker-process.js';
import { canMountTmpfs, mountSmallDisk, type SmallDisk } from '../test-support/full-disk.js';

const RESOURCE_EXHAUSTED = 8;
const MiB = 1024 * 1024;
const SUBJECT = 'fill';
const ENV = {
  // Above what LevelDB writes at open (the WAL replayed into a table, up to its 4 MiB write buffer, and a manifest).
  BROKER_MIN_FREE_BYTES: String(10 * MiB),
  BROKER_RETENTION: '15s',
  BROKER_COMPACTION_INTERVAL: '500ms',
  BROKER_SEGMENT_MAX_BYTES: String(MiB),
  BROKER_SEGMENT_MAX_AGE: '1s',
};

/** Random bytes: LevelDB compresses its tables (Snappy), so a repeated byte would take no room at all. */
function bodyOf(i: number): Buffer {
  const b = randomBytes(64 * 1024);
  b.write(`record ${i}`);
  return b;
}

/** Publishes 64 KiB bodies, 8 at a time, until one is refused; resolves with the acks and the first refusal. */
async function publishUntilRefused(broker: BrokerProcess): Promise<{ acked: Map<number, Buffer>; refused: unknown }> {
  const client = broker.client();
  const acked = new Map<number, Buffer>();
  let refused: unknown;
  for (let i = 0; i < 2000 && refused === undefined; i += 8) {
    await Promise.all(
      Array.from({ length: 8 }, async (_, j) => {
        const body = bodyOf(i + j);
        try {
          acked.set(await publish(client, SUBJECT, body), body);
        } catch (err) {
          refused ??= err;
        }
      }),
    );
  }
  return { acked, refused };
}

describe(
  'a broker with a free-space floor on a small disk',
  { skip: !canMountTmpfs() && 'needs root to mount a tmpfs' },
  () => {
    let disk: SmallDisk;
    let broker: BrokerProcess;

    before(async () => {
      disk = await mountSmallDisk(20);
      broker = await startBrokerProcess(ENV, disk.dataDir);
    });
    after(async () => {
      await broker?.dispose();
      await disk?.dispose();
    });

    it('should refuse with STORAGE_FULL before the disk is full, restart on it, and accept again once compaction freed space', async () => {
      const started = Date.now();
      const { acked, refused } = await publishUntilRefused(broker);
      assert.ok(refused !== undefined, 'publishing must be refused before 2000 × 64 KiB pass a 20 MiB disk');
      const seen = failure(refused);
      assert.equal(seen.code, RESOURCE_EXHAUSTED, `refused as RESOURCE_EXHAUSTED, not UNAVAILABLE: ${seen.message}`);
      assert.equal(seen.reason, 'STORAGE_FULL');
      assert.match(seen.message, /BROKER_MIN_FREE_BYTES/);
      const freeAtRefusal = await disk.freeBytes();
      assert.ok(freeAtRefusal > 4 * MiB, `the floor kept ${freeAtRefusal} bytes free`);
      const client = broker.client();
      for (const [id, body] of acked) {
        assert.ok(Buffer.from((await fetchMessage(client, SUBJECT, id)).body).equals(body), `acked id ${id} is served`);
      }
      assert.ok(Date.now() - started < 15_000, 'checked within the retention, before compaction could remove anything');

      // A restart on that disk opens (LevelDB writes a table and a manifest at open) and compaction frees the space.
      broker = await broker.restart();
      const again = broker.client();
      const lastAcked = Math.max(...acked.keys());
      const deadline = Date.now() + 30_000;
      const publishWhenRoom = async (body: Buffer): Promise<number> => {
        for (;;) {
          try {
            return await publish(again, SUBJECT, body);
          } catch (err) {
            // Compaction frees the expired segments one by one as they pass the retention, and the broker reads the
            // free space every second: it may refuse a while after the first room came back.
            assert.equal(
              failure(err).reason,
              'STORAGE_FULL',
              `only STORAGE_FULL while waiting: ${failure(err).message}`,
            );
            assert.ok(Date.now() < deadline, `compaction freed no space within 30 s (${await disk.freeBytes()} free)`);
            await new Promise((r) => setTimeout(r, 250));
          }
        }
      };
      const first = await publishWhenRoom(bodyOf(0));
      assert.ok(first > lastAcked, `the next id ${first} is above the last acknowledged ${lastAcked}`);
      // 512 KiB more, where the floor left room for less than one 64 KiB body at the refusal.
      for (let i = 1; i < 8; i++) await publishWhenRoom(bodyOf(i));
      // Compaction goes on freeing the segments that pass the retention; with several workers the restart and the
      // owner's first passes take longer, so wait for it within the same deadline rather than read it once.
      while ((await disk.freeBytes()) <= freeAtRefusal) {
        assert.ok(Date.now() < deadline, `compaction gave no space back (${await disk.freeBytes()} free)`);
        await new Promise((r) => setTimeout(r, 250));
      }
    });
  },
);
