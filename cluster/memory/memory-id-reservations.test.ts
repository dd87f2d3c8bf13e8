import { idReservationsContract } from '../test-support/id-reservations-contract.js';
import { MemoryIdReservations } from './memory-id-reservations.js';

idReservationsContract('MemoryIdReservations', () =>
  Promise.resolve({ reservations: new MemoryIdReservations(), dispose: () => Promise.resolve() }),
);
