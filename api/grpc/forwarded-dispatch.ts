import type { Metadata } from '@grpc/grpc-js';
import type { ClusterToken } from '../security/cluster-token.js';
import { refuseAll } from '../security/refusal.js';
import { brokerServiceDefinition, type BrokerHandlers } from './service-definition.js';

/**
 * The metadata a broker (or worker) puts on every call it forwards to the owner of a subject. The owner answers such
 * a call from its own partitions only: it never forwards it again, so two members with different views of who owns
 * a partition cannot bounce a call between them (the one that does not own it answers NOT_OWNER).
 */
export const FORWARDED_HEADER = 'broker-forwarded';

export function isForwarded(metadata: Metadata): boolean {
  return metadata.get(FORWARDED_HEADER).length > 0;
}

/**
 * The handlers of one port that serves clients and other members: forwarded calls go to `owner`, the rest to
 * `client`. With a cluster token, a call marked forwarded without it is refused UNAUTHENTICATED: the mark is a
 * header any client could send.
 */
export function dispatchForwarded(client: BrokerHandlers, owner: BrokerHandlers, token?: ClusterToken): BrokerHandlers {
  return routedBy((metadata) => (isForwarded(metadata) ? withToken(owner, metadata, token) : client));
}

/**
 * The handlers of a port only members call (a worker's peer port, BROKER_PEER_PORT): with a cluster token, every
 * call must carry it, marked forwarded or not.
 */
export function requireClusterToken(owner: BrokerHandlers, token: ClusterToken): BrokerHandlers {
  return routedBy((metadata) => withToken(owner, metadata, token));
}

function withToken(owner: BrokerHandlers, metadata: Metadata, token: ClusterToken | undefined): BrokerHandlers {
  const refused = token?.check(metadata);
  if (refused === undefined) return owner;
  // Refusals are rare (a misconfigured member, or a client posing as one): built per call, with its own reason.
  return refuseAll(brokerServiceDefinition, () => refused) as unknown as BrokerHandlers;
}

/** Handlers that pass each call to the handlers `route` picks by the call's metadata. */
function routedBy(route: (metadata: Metadata) => BrokerHandlers): BrokerHandlers {
  return {
    publish: (call, callback) => route(call.metadata).publish(call, callback),
    publishBatch: (call, callback) => route(call.metadata).publishBatch(call, callback),
    fetch: (call, callback) => route(call.metadata).fetch(call, callback),
    fetchRange: (call, callback) => route(call.metadata).fetchRange(call, callback),
    listSubjects: (call, callback) => route(call.metadata).listSubjects(call, callback),
    getSubject: (call, callback) => route(call.metadata).getSubject(call, callback),
    subscribe: (call) => route(call.metadata).subscribe(call),
    publishStream: (call) => route(call.metadata).publishStream(call),
  };
}
