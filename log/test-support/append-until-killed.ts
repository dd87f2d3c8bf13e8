// Child process of crash.test.ts: appends to a few subjects as fast as it can and prints "subject offset" for each
// acknowledged append, until it is killed.
import { LevelDbLog } from '../leveldb-log.js';
import { TEST_LOG_DEFAULTS } from './temp-log.js';

const [dir, fsync] = process.argv.slice(2);
if (dir === undefined) throw new Error('usage: append-until-killed.ts <data dir> <batch|never>');
const log = await LevelDbLog.open({
  ...TEST_LOG_DEFAULTS,
  dataDir: dir,
  fsync: fsync === 'batch' ? 'batch' : 'never',
  segmentMaxRecords: 500,
});
const subjects = ['orders', 'payments', 'audit.log'];
await Promise.all(
  Array.from({ length: 64 }, async (_, worker) => {
    // Each worker cycles through the subjects, starting at its own.
    const start = worker % subjects.length;
    const mine = [...subjects.slice(start), ...subjects.slice(0, start)];
    for (;;) {
      for (const subject of mine) {
        const offset = await log.append({ subject, body: Buffer.alloc(200, worker), expirationSeconds: 0 });
        process.stdout.write(`${subject} ${offset}\n`);
      }
    }
  }),
);
