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

  it('should let the next owner raise at once above a settled reservation (another instance, same cluster)', async () => {
    const keyspace = randomKeyspace('reservations');
    const a = await openCassandraIdReservations(reservationsOptions(keyspace));
    const b = await openCassandraIdReservations(reservationsOptions(keyspace));
    try {
      await a.reserve(0, [{ subject: 's', upTo: 10_042 }]);
      await a.settle(0, [{ subject: 's', lastId: 42 }]);
      assert.equal((await b.reserved(0)).get('s'), 42);
      await b.reserve(0, [{ subject: 's', upTo: 10_043 }]);
      assert.equal((await a.reserved(0)).get('s'), 10_043, "the next owner's row is not under the tombstone");
      await b.settle(0, [{ subject: 's', lastId: 50 }]);
      await a.reserve(0, [{ subject: 's', upTo: 10_051 }]);
      assert.equal((await b.reserved(0)).get('s'), 10_051);
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
