import { BrokerError, exitCodeOf } from '../../core/index.js';
import { describeError } from '../client/broker-client.js';

/** How deep a cause chain is followed; a chain longer than this is a loop or not worth reading. */
const MAX_CAUSES = 8;

function describe(err: unknown): { reason: string; message: string } {
  // A BrokerError from this process (a setting, the data dir) has its reason on it; a gRPC error carries the
  // server's in its trailers, which describeError decodes.
  return err instanceof BrokerError ? { reason: err.reason, message: err.message } : describeError(err);
}

/**
 * The lines the CLI prints for a failure, `error: <REASON>: <message>` and then one `  cause: ...` line per link of
 * the cause chain (a start that fails in LevelDB or a driver says why), and the exit code REASONS gives the reason.
 */
export function reportFailure(err: unknown): { lines: string[]; exitCode: number } {
  const { reason, message } = describe(err);
  const lines = [`error: ${reason}: ${message}`];
  let cause = err instanceof Error ? err.cause : undefined;
  for (let depth = 0; cause !== undefined && depth < MAX_CAUSES; depth++) {
    const link = describe(cause);
    lines.push(`  cause: ${link.reason}: ${link.message}`);
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return { lines, exitCode: exitCodeOf(reason) };
}
