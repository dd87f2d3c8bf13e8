// Can two LevelDB batch writes issued back to back land in the other order? The question behind pipelining the
// group commit (issue 14): each commit puts its subjects' head and segment rows, so if commit k+1 were issued before
// commit k finished and landed first, k's older head would win and the database would hold a stale head.
//
//   node --import tsx bench/leveldb-write-order.ts --trials 300 --sync [--turn]
//
// Each trial issues three batches without awaiting between them (a large one first, then two small ones, each also
// putting the same key with its own number) and reads the key once all three resolved. `level` (classic-level on
// Node) runs each write on a libuv pool thread, and the threads reach LevelDB's writer queue in whatever order the
// scheduler lets them, so a nonzero count means a later-issued batch was overwritten by an earlier one.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Level } from 'level';

const { values } = parseArgs({
  options: {
    trials: { type: 'string', default: '300' },
    sync: { type: 'boolean', default: false },
    // Issue each batch an event-loop turn after the one before (as a group commit would), not back to back.
    turn: { type: 'boolean', default: false },
  },
});
const trials = Number(values.trials);
const dir = await mkdtemp(join(tmpdir(), 'write-order-'));
const db = new Level<Buffer, Buffer>(join(dir, 'db'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
await db.open();
const key = Buffer.from('head');
const body = Buffer.alloc(1024);
let flipped = 0;
for (let t = 0; t < trials; t += 1) {
  const writes: Array<Promise<void>> = [];
  for (let k = 0; k < 3; k += 1) {
    const batch = db.batch();
    const records = k === 0 ? 200 : 1;
    for (let i = 0; i < records; i += 1) batch.put(Buffer.from(`r${t}-${k}-${i}`), body);
    batch.put(key, Buffer.from([k]));
    writes.push(batch.write({ sync: values.sync }));
    if (values.turn) await new Promise((resolve) => setImmediate(resolve));
  }
  await Promise.all(writes);
  const last = await db.get(key);
  if (last?.[0] !== 2) flipped += 1;
}
await db.close();
await rm(dir, { recursive: true, force: true });
console.log(
  `sync=${values.sync}, turn=${values.turn}: in ${flipped} of ${trials} trials (${((100 * flipped) / trials).toFixed(1)}%) ` +
    'the last-issued batch was overwritten by one issued before it',
);
