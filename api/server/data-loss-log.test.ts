import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { AckMode } from '../../core/index.js';
import { withDataLossLog } from './data-loss-log.js';

/** What the observer logs for one range of ids the recovery pass found missing, under the given ack mode. */
function loggedFor(acks: AckMode): Array<Record<string, unknown>> {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const inner = { batchWritten: () => undefined, appendAcknowledged: () => undefined };
  withDataLossLog(inner, pino({ level: 'info' }, sink), acks).dataLost?.('orders', 1, 10_001, 'a wiped disk');
  return lines;
}

describe('withDataLossLog', () => {
  describe('when the recovery pass finds ids missing from this disk', () => {
    it('should raise the data-loss alarm at error with acks=local (an acknowledged id may be gone)', () => {
      const [line, ...rest] = loggedFor('local');
      assert.deepEqual(rest, []);
      assert.equal(line?.level, 50);
      assert.equal(line?.msg, 'acknowledged ids lost with damaged files');
      assert.match(String((line?.err as { message?: string } | undefined)?.message), /ids 1 to 10001/);
    });

    it('should only warn with acks=replicated: every acknowledged id is in the cold tier, which serves it', () => {
      const [line, ...rest] = loggedFor('replicated');
      assert.deepEqual(rest, []);
      assert.equal(line?.level, 40);
      assert.match(String(line?.msg), /served from the cold tier/);
      assert.deepEqual([line?.subject, line?.from, line?.to], ['orders', 1, 10_001]);
    });
  });
});
