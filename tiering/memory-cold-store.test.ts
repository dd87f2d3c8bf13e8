import { MemoryColdStore } from './test-support/memory-cold-store.js';
import { coldStoreContract } from './test-support/cold-store-contract.js';

// The store the tiered-reader and job tests use must read as the Cassandra store does (cassandra-cold-store.cql.test.ts
// runs the same contract against a real CQL server).
coldStoreContract('MemoryColdStore', async () => {
  const store = new MemoryColdStore();
  return { store, dispose: () => store.close() };
});
