import { MemoryIdReservations } from '../../cluster/index.js';
import { handOverScenarios } from '../test-support/handover-scenarios.js';

handOverScenarios('MemoryIdReservations', () =>
  Promise.resolve({ store: new MemoryIdReservations(), dispose: () => Promise.resolve() }),
);
