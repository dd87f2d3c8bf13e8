import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { BrokerError } from '../../core/index.js';
import { Any } from '../../proto/gen/google/protobuf/any.js';
import { ErrorInfo } from '../../proto/gen/google/rpc/error_details.js';
import { Status } from '../../proto/gen/google/rpc/status.js';

export const ERROR_DOMAIN = 'broker';
const ERROR_INFO_TYPE = 'type.googleapis.com/google.rpc.ErrorInfo';

/** A gRPC error for the wire: status code, readable message, and google.rpc.Status with ErrorInfo in the trailers. */
export type WireError = Partial<ServiceError> & { code: status; details: string; metadata: Metadata };

/**
 * The one place where errors become gRPC statuses. A BrokerError maps by its reason; anything else is an
 * unexpected failure and becomes INTERNAL (never UNKNOWN) with its message, so nothing is hidden.
 */
export function toWireError(err: unknown): WireError {
  if (err instanceof BrokerError) {
    return wireError(err.grpcCode as number as status, err.message, err.reason, err.metadata);
  }
  const message = err instanceof Error ? err.message : String(err);
  return wireError(status.INTERNAL, `internal error: ${message}`, 'INTERNAL', {});
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
