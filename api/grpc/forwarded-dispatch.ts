import type { Metadata } from '@grpc/grpc-js';
import type { BrokerHandlers } from './service-definition.js';

/**
 * The metadata a broker (or worker) puts on every call it forwards to the owner of a subject. The owner answers such
 * a call from its own partitions only: it never forwards it again, so two members with different views of who owns
 * a partition cannot bounce a call between them (the one that does not own it answers NOT_OWNER).
 */
export const FORWARDED_HEADER = 'broker-forwarded';

export function isForwarded(metadata: Metadata): boolean {
  return metadata.get(FORWARDED_HEADER).length > 0;
}

/** The handlers of one port that serves clients and other members: forwarded calls go to `owner`, the rest to `client`. */
export function dispatchForwarded(client: BrokerHandlers, owner: BrokerHandlers): BrokerHandlers {
  return {
    publish: (call, callback) => (isForwarded(call.metadata) ? owner : client).publish(call, callback),
    publishBatch: (call, callback) => (isForwarded(call.metadata) ? owner : client).publishBatch(call, callback),
    fetch: (call, callback) => (isForwarded(call.metadata) ? owner : client).fetch(call, callback),
    fetchRange: (call, callback) => (isForwarded(call.metadata) ? owner : client).fetchRange(call, callback),
    listSubjects: (call, callback) => (isForwarded(call.metadata) ? owner : client).listSubjects(call, callback),
    getSubject: (call, callback) => (isForwarded(call.metadata) ? owner : client).getSubject(call, callback),
    subscribe: (call) => (isForwarded(call.metadata) ? owner : client).subscribe(call),
    publishStream: (call) => (isForwarded(call.metadata) ? owner : client).publishStream(call),
  };
}
