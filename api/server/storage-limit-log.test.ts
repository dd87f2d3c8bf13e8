import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { LogObserver } from '../../core/index.js';
import { withStorageLimitLog } from './storage-limit-log.js';

describe('withStorageLimitLog', () => {
  describe('when a storage limit task fails', () => {
    it('should log it at error with the error and what failed, and still tell the observer it wraps', () => {
      const lines: Array<Record<string, unknown>> = [];
      const sink = new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
          done();
        },
      });
      const heard: string[] = [];
      const inner: LogObserver = {
        batchWritten: () => undefined,
        appendAcknowledged: () => undefined,
        storageLimitFailed: (what) => heard.push(what),
      };
      const observer = withStorageLimitLog(inner, pino({ level: 'info' }, sink));
      observer.storageLimitFailed?.('statfs', new Error('EACCES: permission denied'));
      assert.deepEqual(heard, ['statfs']);
      assert.equal(lines.length, 1);
      assert.equal(lines[0]?.level, 50);
      assert.equal(lines[0]?.what, 'statfs');
      assert.match(String((lines[0]?.err as { message?: string } | undefined)?.message), /EACCES/);
    });
  });
});
