import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { BrokerError } from '../../core/index.js';
import { Any } from '../../proto/gen/google/protobuf/any.js';
import { ErrorInfo } from '../../proto/gen/google/rpc/error_details.js';
import { Status } from '../../proto/gen/google/rpc/status.js';

export const ERROR_DOMAIN = 'broker';
const ERROR_INFO_TYPE = 'type.googleapis.com/google.rpc.ErrorInfo';

/** A gRPC error for the wire: status code, readable message, and google.rpc.Status with ErrorInfo in the trailers. */
export type WireError = Partial<ServiceError> & { code: status; details: string; metadata: Metadata };

/** Where the detail of an unexpected failure goes (the broker's pino logger). */
export type ErrorLogger = Pick<Logger, 'error'>;

/**
 * The one place where errors become gRPC statuses. A BrokerError meant for clients maps by its reason, with its
 * message. Anything unexpected (not a BrokerError, or one with reason INTERNAL: a broken invariant) becomes INTERNAL,
 * never UNKNOWN, with a generic message and a correlation id: its own text may hold file paths and stack details
 * that are the operator's, not the client's. The detail is logged at error under the same id.
 */
export function toWireError(err: unknown, logger: ErrorLogger): WireError {
  if (err instanceof BrokerError && err.reason !== 'INTERNAL') {
    return wireError(err.grpcCode as number as status, err.message, err.reason, err.metadata);
  }
  const errorId = randomUUID();
  logger.error({ err, errorId }, 'internal error answered to a client');
  return wireError(status.INTERNAL, `internal error; see the broker log, id ${errorId}`, 'INTERNAL', { errorId });
}

export function wireError(
  code: status,
  message: string,
  reason: string,
  metadata: Readonly<Record<string, string>>,
): WireError {
  const info = ErrorInfo.encode({ reason, domain: ERROR_DOMAIN, metadata: { ...metadata } }).finish();
  const details = Status.encode({
    code,
    message,
    details: [Any.fromPartial({ typeUrl: ERROR_INFO_TYPE, value: Buffer.from(info) })],
  }).finish();
  const md = new Metadata();
  md.set('grpc-status-details-bin', Buffer.from(details));
  return { code, details: message, message, metadata: md, name: 'BrokerError' };
}

/** Decodes the ErrorInfo reason a broker put in an error's trailers (for clients: CLI, tests, benchmarks). */
export function errorReason(err: { metadata?: Metadata }): string | undefined {
  const raw = err.metadata?.get('grpc-status-details-bin')[0];
  if (raw === undefined || typeof raw === 'string') return undefined;
  const decoded = Status.decode(raw);
  for (const any of decoded.details) {
    if (any.typeUrl === ERROR_INFO_TYPE) return ErrorInfo.decode(any.value).reason;
  }
  return undefined;
}
