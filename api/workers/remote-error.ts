import { status, type Metadata } from '@grpc/grpc-js';
import { BrokerError, isReason, type Reason } from '../../core/index.js';
import type { Status } from '../../proto/gen/google/rpc/status.js';
import { errorInfoOf, statusDetails } from '../grpc/status.js';

/**
 * An error another worker answered, carried back to the client unchanged: the same reason (hence status), message
 * and ErrorInfo metadata, because api/grpc/status.ts maps a BrokerError by its reason.
 */
export class RemoteBrokerError extends BrokerError {
  constructor(reason: Reason, message: string, metadata: Record<string, string>) {
    super(reason, message, { metadata });
    this.name = 'RemoteBrokerError';
  }
}

/** A failed call to another worker as the BrokerError the client should get. */
export function fromServiceError(err: { code?: number; details?: string; metadata?: Metadata }, peer: string): Error {
  const said = statusDetails(err.metadata);
  if (said !== undefined) return fromStatus(said, peer);
  return transportError(err.code ?? status.UNKNOWN, err.details ?? 'no detail', peer);
}

/** A google.rpc.Status (as a worker put it in its trailers or in an AppendResult) as a BrokerError. */
export function fromStatus(decoded: Status, peer: string): Error {
  const info = errorInfoOf(decoded);
  if (info !== undefined && isReason(info.reason))
    return new RemoteBrokerError(info.reason, decoded.message, info.metadata);
  return transportError(decoded.code, decoded.message, peer);
}

/**
 * grpc-js's words when a fail-fast call found no connection to the peer (refused, or none yet): the call never
 * left this process, so the peer did nothing for it.
 */
const NEVER_SENT = /No connection established|ECONNREFUSED/;

/** Whether a failed forwarded call is one that never reached its peer (transportError's message keeps the cause). */
export function neverSent(err: BrokerError): boolean {
  return err instanceof RemoteBrokerError && err.metadata.peer !== undefined && NEVER_SENT.test(err.message);
}

/**
 * A status with no broker reason: grpc-js's own (the worker is restarting, the socket closed, a deadline passed).
 * Unavailability is retriable for the client; anything else is a broken invariant between workers (INTERNAL).
 */
function transportError(code: number, details: string, peer: string): Error {
  const unreachable = code === status.UNAVAILABLE || code === status.DEADLINE_EXCEEDED || code === status.CANCELLED;
  if (unreachable) {
    return new RemoteBrokerError(
      'UNAVAILABLE',
      `${peer}, which owns this subject, did not answer (${details}); retry`,
      {
        peer,
      },
    );
  }
  return new Error(`${peer} answered ${status[code] ?? code}: ${details}`);
}
