import { Server, ServerCredentials } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ForwardingService } from '../../proto/gen/internal.js';
import { BrokerError } from '../../core/index.js';
import { ClusterOwners, type OwnershipView } from './cluster-owners.js';

const DRIFT_MS = 200;

/** The lease keeper's view as the routing reads it: m2 owns every partition, its row's lease ending at `leaseUntilMs`. */
function viewWith(leaseUntilMs: number, address: string): OwnershipView {
  return {
    memberId: 'm1',
    ownerOf: () => ({ member: 'm2', address, leaseUntilMs }),
    members: () => [
      { id: 'm1', address: '127.0.0.1:1', startedAtMs: 0 },
      { id: 'm2', address, startedAtMs: 0 },
    ],
    placedOn: () => 'm2',
    refresh: () => Promise.resolve(),
    handoverWaitMs: 3_000,
    maxClockDriftMs: DRIFT_MS,
  };
}

const remote = { partitionOf: () => 0, owns: () => false };

describe('a call forwarded to a cluster owner waits for it only until shortly after its lease', () => {
  // An owner frozen past its lease: its port accepts the call and never answers (a real gRPC server on loopback).
  const frozen = new Server();
  let address = '';
  before(async () => {
    frozen.addService(ForwardingService, { append: () => undefined });
    const port = await new Promise<number>((resolve, reject) =>
      frozen.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    address = `127.0.0.1:${port}`;
  });
  after(() => frozen.forceShutdown());

  it("gives an attempt the row's lease + drift + 250 ms, at least 1 s, and only at the row's owner", () => {
    const leaseUntil = Date.now() + 2_000;
    const owners = new ClusterOwners(viewWith(leaseUntil, address), remote);
    const m2 = owners.peerOf('s');
    assert.ok(m2 !== undefined);
    assert.equal(owners.moves.answerBy('s', m2), leaseUntil + DRIFT_MS + 250);
    const lapsed = new ClusterOwners(viewWith(Date.now() - 60_000, address), remote);
    const peer = lapsed.peerOf('s');
    assert.ok(peer !== undefined);
    const at = lapsed.moves.answerBy('s', peer) ?? 0;
    assert.ok(at >= Date.now() + 900 && at <= Date.now() + 1_000, `${at - Date.now()} ms`);
    const other = new ClusterOwners({ ...viewWith(leaseUntil, address), ownerOf: () => ({ member: 'm3' }) }, remote);
    assert.equal(other.moves.answerBy('s', m2), undefined);
    owners.close();
    lapsed.close();
    other.close();
  });

  it('a publish to a silent owner fails UNAVAILABLE at that deadline, not after the forwarding deadline (15 s)', async () => {
    const owners = new ClusterOwners(viewWith(Date.now() - 60_000, address), remote);
    const peer = owners.peerOf('s');
    assert.ok(peer !== undefined);
    const started = Date.now();
    const err = await peer.publishes
      .append({ subject: 's', body: Buffer.from('x'), expirationSeconds: 0 }, owners.moves.answerBy('s', peer))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    const took = Date.now() - started;
    owners.close();
    assert.ok(err instanceof BrokerError && err.reason === 'UNAVAILABLE', String(err));
    assert.ok(took >= 900 && took < 5_000, `${took} ms`);
  });
});
