import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { emptyWals, loseUnsyncedHighWater } from './test-support/power-cut.js';
import { tempLog } from './test-support/temp-log.js';

const CHILD = fileURLToPath(new URL('./test-support/append-until-killed.ts', import.meta.url));

describe('LevelDbLog after a power cut', () => {
  describe('when the process is SIGKILLed mid-load with fsync=batch, then loses its unsynced writes and its WAL', () => {
    it('should never reissue an acknowledged id: the next id is above every one, each acked id reads or is lost', async () => {
      const ctx = await tempLog();
      await ctx.log.close();
      const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ctx.dir, 'batch'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const acked = new Map<string, number>();
      let lines = 0;
      await new Promise<void>((resolve) => {
        createInterface({ input: child.stdout! }).on('line', (line) => {
          const [subject, offset] = line.split(' ');
          acked.set(subject!, Math.max(acked.get(subject!) ?? 0, Number(offset)));
          lines += 1;
          if (lines === 2000) child.kill('SIGKILL');
        });
        child.on('exit', () => resolve());
      });
      await loseUnsyncedHighWater(ctx.dir);
      assert.ok((await emptyWals(ctx.dir)) > 0, 'no write-ahead log to empty: the test proves nothing');
      const log = await ctx.reopen({ fsync: 'batch' });
      for (const [subject, max] of acked) {
        const next = await log.append({ subject, body: Buffer.from('after'), expirationSeconds: 0 });
        assert.ok(next > max, `${subject}: id ${next} reissued (acknowledged up to ${max})`);
        const read = await log.get(subject, max);
        assert.ok(read.kind === 'record' || read.kind === 'lost', `${subject}#${max}: ${read.kind}`);
      }
      await ctx.dispose();
    });
  });
});
