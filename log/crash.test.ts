import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempLog } from './test-support/temp-log.js';

const CHILD = fileURLToPath(new URL('./test-support/append-until-killed.ts', import.meta.url));

describe('LevelDbLog crash safety', () => {
  for (const fsync of ['batch', 'never'] as const) {
    describe(`when the process is SIGKILLed mid-load with fsync=${fsync}`, () => {
      it('should reopen with every acknowledged offset present and continue after the highest', async () => {
        const ctx = await tempLog();
        await ctx.log.close();
        const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ctx.dir, fsync], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        const acked = new Map<string, number[]>();
        let lines = 0;
        const killed = new Promise<void>((resolve) => {
          createInterface({ input: child.stdout! }).on('line', (line) => {
            const [subject, offset] = line.split(' ');
            const list = acked.get(subject!) ?? [];
            list.push(Number(offset));
            acked.set(subject!, list);
            lines += 1;
            if (lines === 3000) child.kill('SIGKILL');
          });
          child.on('exit', () => resolve());
        });
        await killed;
        assert.ok(lines >= 3000, `the child acknowledged ${lines} appends before it was killed`);
        const log = await ctx.reopen({ fsync });
        for (const [subject, offsets] of acked) {
          const max = Math.max(...offsets);
          const info = await log.subjectInfo(subject);
          assert.ok(
            info !== undefined && info.lastOffset >= max,
            `${subject}: last offset ${info?.lastOffset} < acknowledged ${max}`,
          );
          const stored = await log.readRange(subject, 1, { maxRecords: 1_000_000, maxBytes: 1 << 30 });
          // Dense: every offset up to the head is there, so every acknowledged one is.
          assert.deepEqual(
            stored.map((r) => r.offset),
            Array.from({ length: info.lastOffset }, (_, i) => i + 1),
          );
          const segments = await log.segments(subject);
          assert.equal(
            segments.reduce((n, s) => n + s.count, 0),
            info.lastOffset,
            `${subject}: segment counts agree with records`,
          );
          assert.equal(
            await log.append({ subject, body: Buffer.from('after'), expirationSeconds: 0 }),
            info.lastOffset + 1,
          );
        }
        await ctx.dispose();
      });
    });
  }
});
