import { describe, it } from 'node:test';
import { MemoryIdReservations } from '../cluster/index.js';
import { MemoryColdStore } from './test-support/memory-cold-store.js';
import { fencedOwnerScenario } from './test-support/fenced-owner-scenario.js';

describe('a stale owner fenced by the epoch (memory reservations and cold tier)', () => {
  it('should refuse its appends past its reservation NOT_OWNER, leave the new owner rows alone and give up', async () => {
    await fencedOwnerScenario({ reservations: new MemoryIdReservations(), cold: new MemoryColdStore() }, 'orders');
  });
});
