import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { BrokerError, QuotaExceededError } from '../../core/index.js';
import { Any } from '../../proto/gen/google/protobuf/any.js';
import { ErrorInfo, RetryInfo } from '../../proto/gen/google/rpc/error_details.js';
import { Status } from '../../proto/gen/google/rpc/status.js';

export const ERROR_DOMAIN = 'broker';
const ERROR_INFO_TYPE = 'type.googleapis.com/google.rpc.ErrorInfo';
const RETRY_INFO_TYPE = 'type.googleapis.com/google.rpc.RetryInfo';
const STATUS_DETAILS = 'grpc-status-details-bin';

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
  return asWireError(toRpcStatus(err, logger));
}

/**
 * The google.rpc.Status (code, message, ErrorInfo) a failure is answered with, by the rules of toWireError: also
 * what an internal call carries per entry (broker.internal.Forwarding/Append), so the client gets it unchanged.
 */
export function toRpcStatus(err: unknown, logger: ErrorLogger): Status {
  if (err instanceof BrokerError && err.reason !== 'INTERNAL') {
    const rpc = rpcStatus(err.grpcCode as number as status, err.message, err.reason, err.metadata);
    if (err instanceof QuotaExceededError) rpc.details.push(retryInfo(err.retryAfterMs));
    return rpc;
  }
  const errorId = randomUUID();
  logger.error({ err, errorId }, 'internal error answered to a client');
  return rpcStatus(status.INTERNAL, `internal error; see the broker log, id ${errorId}`, 'INTERNAL', { errorId });
}

export function wireError(
  code: status,
  message: string,
  reason: string,
  metadata: Readonly<Record<string, string>>,
): WireError {
  return asWireError(rpcStatus(code, message, reason, metadata));
}

function rpcStatus(code: status, message: string, reason: string, metadata: Readonly<Record<string, string>>): Status {
  const info = ErrorInfo.encode({ reason, domain: ERROR_DOMAIN, metadata: { ...metadata } }).finish();
  return { code, message, details: [Any.fromPartial({ typeUrl: ERROR_INFO_TYPE, value: Buffer.from(info) })] };
}

/** google.rpc.RetryInfo: how long the client waits before the same request fits (QUOTA_EXCEEDED). */
function retryInfo(delayMs: number): Any {
  const seconds = Math.floor(delayMs / 1000);
  const retryDelay = { seconds, nanos: Math.round((delayMs - seconds * 1000) * 1e6) };
  return Any.fromPartial({ typeUrl: RETRY_INFO_TYPE, value: Buffer.from(RetryInfo.encode({ retryDelay }).finish()) });
}

/** The retry delay of a google.rpc.Status's RetryInfo in ms, if it has one. */
export function retryDelayMsOf(rpc: Status): number | undefined {
  const any = rpc.details.find((d) => d.typeUrl === RETRY_INFO_TYPE);
  const delay = any === undefined ? undefined : RetryInfo.decode(any.value).retryDelay;
  return delay === undefined ? undefined : delay.seconds * 1000 + delay.nanos / 1e6;
}

/** A status as grpc-js sends it: its code and message, and the whole google.rpc.Status in the trailers. */
function asWireError(rpc: Status): WireError {
  const md = new Metadata();
  md.set(STATUS_DETAILS, Buffer.from(Status.encode(rpc).finish()));
  return { code: rpc.code, details: rpc.message, message: rpc.message, metadata: md, name: 'BrokerError' };
}

/** The google.rpc.Status a broker put in a call's trailers, if it did (grpc-js's own failures carry none). */
export function statusDetails(metadata: Metadata | undefined): Status | undefined {
  const raw = metadata?.get(STATUS_DETAILS)[0];
  return raw === undefined || typeof raw === 'string' ? undefined : Status.decode(raw);
}

/** The ErrorInfo of a google.rpc.Status, if it has one. */
export function errorInfoOf(rpc: Status): ErrorInfo | undefined {
  const any = rpc.details.find((d) => d.typeUrl === ERROR_INFO_TYPE);
  return any === undefined ? undefined : ErrorInfo.decode(any.value);
}

/** Decodes the ErrorInfo reason a broker put in an error's trailers (for clients: CLI, tests, benchmarks). */
export function errorReason(err: { metadata?: Metadata }): string | undefined {
  const rpc = statusDetails(err.metadata);
  return rpc === undefined ? undefined : errorInfoOf(rpc)?.reason;
}
