import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  FrameKind,
  HIGH_WATER_FILE,
  HighWaterFile,
  RESERVATION_STEP,
  currentBootId,
  decodeFrames,
  encodeFrame,
  readHighWater,
} from './high-water.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'broker-high-water-'));
  dirs.push(dir);
  return dir;
}
after(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

describe('HighWaterFile', () => {
  describe('when frames are written and read back', () => {
    it('should keep the last mark per subject across writes and a reopen', async () => {
      const dir = await tempDir();
      const file = await HighWaterFile.open(dir);
      await file.write(
        [
          ['a', 3],
          ['b', 1],
        ],
        true,
      );
      await file.write([['a', 7]], true);
      await file.close();
      assert.deepEqual(
        [...(await readHighWater(dir)).marks],
        [
          ['a', 7],
          ['b', 1],
        ],
      );
      const again = await HighWaterFile.open(dir);
      assert.deepEqual(
        [...(await again.marks())],
        [
          ['a', 7],
          ['b', 1],
        ],
      );
      await again.close();
    });
  });

  describe('when the file ends in a torn frame', () => {
    it('should ignore the torn tail, keep every whole frame, and drop the tail when it rewrites at open', async () => {
      const dir = await tempDir();
      const path = join(dir, HIGH_WATER_FILE);
      await writeFile(path, Buffer.concat([encodeFrame([['a', 5]]), encodeFrame([['a', 9]])]));
      await truncate(path, (await stat(path)).size - 3);
      const read = await readHighWater(dir);
      assert.equal(read.marks.get('a'), 5);
      assert.ok(read.tornBytes > 0);
      const file = await HighWaterFile.open(dir);
      assert.equal(file.tornBytes, read.tornBytes);
      await file.close();
      assert.deepEqual(decodeFrames(await readFile(path)), { marks: new Map([['a', 5]]), tornBytes: 0 });
    });

    it('should stop at a frame whose checksum fails, even with whole frames after it', async () => {
      const damaged = encodeFrame([['a', 8]]);
      damaged.writeUInt8(damaged.readUInt8(damaged.length - 1) ^ 0xff, damaged.length - 1);
      const data = Buffer.concat([encodeFrame([['a', 2]]), damaged, encodeFrame([['a', 9]])]);
      const read = decodeFrames(data);
      assert.equal(read.marks.get('a'), 2);
      assert.equal(read.tornBytes, data.length - encodeFrame([['a', 2]]).length);
    });
  });

  describe('when opened', () => {
    it('should rewrite the file compacted (one entry per subject), atomically, leaving no temp file', async () => {
      const dir = await tempDir();
      const path = join(dir, HIGH_WATER_FILE);
      for (let i = 1; i <= 100; i++) await appendFile(path, encodeFrame([['orders', i]]));
      const before = (await stat(path)).size;
      const file = await HighWaterFile.open(dir);
      await file.close();
      const boot = encodeFrame([[await currentBootId(), 0]], FrameKind.boot);
      const clean = encodeFrame([], FrameKind.clean);
      assert.equal((await stat(path)).size, encodeFrame([['orders', 100]]).length + boot.length + clean.length);
      assert.ok(before > (await stat(path)).size);
      assert.deepEqual(await readdir(dir), [HIGH_WATER_FILE]);
    });
  });

  describe('when heads are written with fsync batch', () => {
    it('should reserve a subject RESERVATION_STEP ahead in a synced frame only when its head passes the reservation', async () => {
      const dir = await tempDir();
      const path = join(dir, HIGH_WATER_FILE);
      const file = await HighWaterFile.open(dir);
      const opened = (await stat(path)).size;
      await file.write([['a', 1]], true);
      const reserving = encodeFrame([['a', 1]]).length + encodeFrame([['a', 1 + RESERVATION_STEP]], 1).length;
      assert.equal((await stat(path)).size, opened + reserving);
      await file.write([['a', RESERVATION_STEP]], true);
      assert.equal((await stat(path)).size, opened + reserving + encodeFrame([['a', RESERVATION_STEP]]).length);
      await file.write([['b', 5]], false);
      assert.equal((await readHighWater(dir)).marks.get('a'), RESERVATION_STEP, 'same boot: the exact mark');
      await file.write([['a', RESERVATION_STEP + 2]], true);
      const data = await readFile(path);
      assert.equal(decodeFrames(data, 'another boot').marks.get('a'), 2 * RESERVATION_STEP + 2);
      assert.equal(decodeFrames(data, 'another boot').marks.get('b'), 5, 'fsync never: no reservation');
      await file.close();
    });
  });

  describe('when the file is read on another boot', () => {
    const frames = [
      encodeFrame([['a', 5]]),
      encodeFrame([['this boot', 0]], FrameKind.boot),
      encodeFrame([['a', 9]]),
      encodeFrame([['a', 10_009]], FrameKind.reserved),
      encodeFrame([['a', 12]]),
    ];
    it('should trust the exact marks on the boot that wrote them (a process crash keeps the page cache)', () => {
      assert.equal(decodeFrames(Buffer.concat(frames), 'this boot').marks.get('a'), 12);
    });
    it('should take the reservations over unsynced marks after a reboot (a power cut may have lost them)', () => {
      assert.equal(decodeFrames(Buffer.concat(frames), 'the next boot').marks.get('a'), 10_009);
    });
    it('should trust the exact marks after a clean close, whatever the boot', () => {
      const closed = Buffer.concat([...frames, encodeFrame([], FrameKind.clean)]);
      assert.equal(decodeFrames(closed, 'the next boot').marks.get('a'), 12);
    });
  });
});
