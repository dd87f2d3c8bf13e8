import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FORCE_SHUTDOWN_AFTER_MS } from './broker-server.js';
import { exitDeadlineMs } from './run.js';

describe('exitDeadlineMs', () => {
  describe('when BROKER_SHUTDOWN_TIMEOUT is the default 8 s', () => {
    it("should be the contract's 10 s", () => {
      assert.equal(exitDeadlineMs(8_000), 10_000);
    });
  });

  describe('when BROKER_SHUTDOWN_TIMEOUT is 10 s or more', () => {
    it('should leave the whole timeout to in-flight calls, then the forced end of the gRPC server and the closing', () => {
      for (const timeout of [10_000, 12_000, 60_000]) {
        assert.ok(exitDeadlineMs(timeout) > timeout + FORCE_SHUTDOWN_AFTER_MS, `${timeout}`);
      }
    });
  });
});
