// Issue 10, dependencies fail soft: a broker started while its CQL server (Scylla) is down (real process, real CQL
// server stopped and started with scripts/services.sh).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { coldTierOutage } from '../test-support/dependency-outages.js';

describe('broker with SCYLLA_CONTACT_POINTS (needs a CQL server)', () => {
  describe('when the CQL server is down at start and comes back', () => {
    it('should serve the local log, report the cold tier degraded, then catch up replication', async (t) => {
      const r = await coldTierOutage();
      t.diagnostic(JSON.stringify(r));
      assert.equal(r.fetchedWhileDown, 'record 1', 'the local log is served');
      assert.equal(r.healthWhileDown, 'NOT_SERVING');
      assert.equal(r.gaugeWhileDown, 0);
      assert.equal(r.replicatedWhileDown, 0);
      assert.equal(r.sealed, 2);
      assert.equal(r.replicatedAfter, 2, 'every sealed segment reached the cold tier');
      assert.equal(r.healthAfter, 'SERVING');
      assert.equal(r.gaugeAfter, 1);
    });
  });
});
