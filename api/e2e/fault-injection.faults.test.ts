// The fault-injection suite (npm run test:faults, not part of npm test): every scenario of issue 10 against real
// broker processes, real damaged LevelDB files, a real full tmpfs and real Redis/CQL outages. Each test reports its
// row as a diagnostic (the table reporter prints them together) and fails when the broker broke a promise.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeRow, SCENARIOS, type FaultRow } from '../test-support/faults/index.js';

/** A scenario that threw still gets its row, so the table shows every fault. */
function scenarioError(fault: string, err: unknown): FaultRow {
  const message = err instanceof Error ? err.message : String(err);
  return {
    fault,
    clientSaw: `scenario error: ${message.split('\n')[0]?.slice(0, 200) ?? ''}`,
    acked: 0,
    lost: 0,
    idsReused: null,
    recovery: 'unknown',
    promise: 'none lost',
    broken: ['the scenario could not run to the end'],
  };
}

// FAULTS_ONLY=<text> runs the scenarios whose name contains it (while working on one fix).
const only = process.env.FAULTS_ONLY;
const chosen = SCENARIOS.filter((s) => only === undefined || s.name.toLowerCase().includes(only.toLowerCase()));

describe('fault injection', () => {
  for (const scenario of chosen) {
    describe(`when ${scenario.name}`, () => {
      it('should lose no promised record, serve no wrong body and reuse no id', async (t) => {
        const row = await scenario.run().catch((err: unknown) => scenarioError(scenario.name, err));
        t.diagnostic(encodeRow(row));
        assert.equal(row.idsReused ?? 0, 0, 'ids reused');
        assert.equal(row.duplicatesAfterRetries ?? 0, 0, 'duplicates after retries');
        assert.deepEqual(row.broken, [], `${row.fault}: ${row.broken.join('; ')}`);
      });
    });
  }
});
