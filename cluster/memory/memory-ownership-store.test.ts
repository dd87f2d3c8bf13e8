import { ownershipStoreContract } from '../test-support/ownership-store-contract.js';
import { MemoryOwnershipStore } from './memory-ownership-store.js';

ownershipStoreContract('MemoryOwnershipStore', async () => {
  let now = 1_700_000_000_000;
  const partitions = 16;
  const store = new MemoryOwnershipStore({ partitions, now: () => now });
  return {
    store,
    partitions,
    now: () => now,
    async pass(ms) {
      now += ms;
    },
    dispose: () => store.close(),
  };
});
