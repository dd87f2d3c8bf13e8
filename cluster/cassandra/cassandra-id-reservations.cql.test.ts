import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../core/index.js';
import { randomKeyspace } from '../../test-support/services.js';
import { dropKeyspace, reservationsOptions } from '../test-support/cql-reservations.js';
import { idReservationsContract } from '../test-support/id-reservations-contract.js';
import { openCassandraIdReservations } from './cassandra-id-reservations.js';

idReservationsContract('CassandraIdReservations (needs the CQL server)', async () => {
  const keyspace = randomKeyspace('reservations');
  const reservations = await openCassandraIdReservations(reservationsOptions(keyspace));
  return {
    reservations,
    async dispose() {
      await reservations.close();
      await dropKeyspace(keyspace);
    },
  };
});

describe('CassandraIdReservations (needs the CQL server)', () => {
  it('should keep clusters sharing a keyspace apart', async () => {
    const keyspace = randomKeyspace('reservations');
    const a = await openCassandraIdReservations(reservationsOptions(keyspace, 'a'));
    const b = await openCassandraIdReservations(reservationsOptions(keyspace, 'b'));
    try {
      await a.reserve(0, [{ subject: 's', upTo: 10 }]);
      assert.equal((await a.reserved(0)).get('s'), 10);
      assert.equal((await b.reserved(0)).size, 0);
    } finally {
      await a.close();
      await b.close();
      await dropKeyspace(keyspace);
    }
  });

  it('should refuse a keyspace it cannot put into CQL, before connecting', async () => {
    await assert.rejects(
      openCassandraIdReservations(reservationsOptions('Bad-Name')),
      (err: unknown) => err instanceof ConfigError && /keyspace/.test(err.message),
    );
  });
});
