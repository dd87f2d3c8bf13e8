import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import cassandra from 'cassandra-driver';
import { ConfigError, FencedError } from '../../core/index.js';
import { randomKeyspace, testCqlContactPoints, testCqlLocalDc } from '../../test-support/services.js';
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
      await a.reserve(0, [{ subject: 's', upTo: 10 }], 0);
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
      await a.reserve(0, [{ subject: 's', upTo: 10_042 }], 0);
      await a.settle(0, [{ subject: 's', lastId: 42 }], 0);
      assert.equal((await b.reserved(0)).get('s'), 42);
      await b.reserve(0, [{ subject: 's', upTo: 10_043 }], 0);
      assert.equal((await a.reserved(0)).get('s'), 10_043, "the next owner's row is not under the tombstone");
      await b.settle(0, [{ subject: 's', lastId: 50 }], 0);
      await a.reserve(0, [{ subject: 's', upTo: 10_051 }], 0);
      assert.equal((await b.reserved(0)).get('s'), 10_051);
    } finally {
      await a.close();
      await b.close();
      await dropKeyspace(keyspace);
    }
  });

  it('should add the fence to a table created before fencing, keeping its reservations', async () => {
    const keyspace = randomKeyspace('reservations');
    const admin = new cassandra.Client({ contactPoints: testCqlContactPoints(), localDataCenter: testCqlLocalDc() });
    await admin.connect();
    try {
      // The table as brokers before fencing created it, with a reservation of theirs.
      await admin.execute(
        `CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
      );
      await admin.execute(`CREATE TABLE ${keyspace}.id_reservations (
         cluster text, partition_id int, subject text, reserved_high bigint,
         PRIMARY KEY ((cluster, partition_id), subject, reserved_high)
       ) WITH CLUSTERING ORDER BY (subject ASC, reserved_high DESC) AND gc_grace_seconds = 3600`);
      await admin.execute(
        `INSERT INTO ${keyspace}.id_reservations (cluster, partition_id, subject, reserved_high) VALUES ('c1', 0, 's', 10042)`,
      );
      const [a, b] = await Promise.all([
        openCassandraIdReservations(reservationsOptions(keyspace)),
        openCassandraIdReservations(reservationsOptions(keyspace)),
      ]);
      try {
        assert.equal((await a.reserved(0)).get('s'), 10_042);
        await a.fence(0, 2);
        await assert.rejects(b.reserve(0, [{ subject: 's', upTo: 20_000 }], 1), FencedError);
        await b.reserve(0, [{ subject: 's', upTo: 20_042 }], 2);
        assert.equal((await a.reserved(0)).get('s'), 20_042);
      } finally {
        await a.close();
        await b.close();
      }
    } finally {
      await admin.shutdown();
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
