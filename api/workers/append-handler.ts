import type { handleUnaryCall } from '@grpc/grpc-js';
import type { LogWriter } from '../../core/index.js';
import type { PublishRequest } from '../../proto/gen/broker.js';
import type { AppendRequest, AppendResponse, AppendResult } from '../../proto/gen/internal.js';
import { toRpcStatus, toWireError, type ErrorLogger } from '../grpc/status.js';
import type { RequestGuard } from '../grpc/validate.js';

/**
 * broker.internal.Forwarding/Append on the owner: the entries are independent publishes, so each is appended (or
 * refused) on its own. They are handed to the log in request order within one turn, so the group commit writes
 * them together and in order. The log refuses a subject of a partition this worker does not own (NOT_OWNER).
 */
export function appendHandler(deps: {
  writer: LogWriter;
  guard: RequestGuard;
  logger: ErrorLogger;
  /** Counts the call in and out, so a shutdown waits for the publishes it carries. */
  track: <T>(work: () => Promise<T>) => Promise<T>;
}): handleUnaryCall<AppendRequest, AppendResponse> {
  return (call, callback) => {
    // Admitted first: a shutdown refuses the whole call before any entry reaches the log.
    deps
      .track(() => Promise.allSettled(call.request.messages.map((message) => appendOne(deps, message))))
      .then(
        (settled) => callback(null, { results: settled.map((s) => toResult(s, deps.logger)) }),
        (err: unknown) => callback(toWireError(err, deps.logger)),
      );
  };
}

function appendOne(deps: { writer: LogWriter; guard: RequestGuard }, message: PublishRequest): Promise<number> {
  try {
    // Validated again here: the socket is this host's only, but a check costs little and keeps the log safe.
    return deps.writer.append(deps.guard.publish(message));
  } catch (err) {
    return Promise.reject(err);
  }
}

function toResult(settled: PromiseSettledResult<number>, logger: ErrorLogger): AppendResult {
  if (settled.status === 'fulfilled') return { id: settled.value, error: undefined };
  return { id: 0, error: toRpcStatus(settled.reason, logger) };
}
