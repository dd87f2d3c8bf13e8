// Prints docs/errors.md from core's REASONS table (npm run docs:errors writes it); a test keeps the two in step.
import { REASONS } from '../core/index.js';

const CODE_NAMES: Record<number, string> = {
  3: 'INVALID_ARGUMENT',
  5: 'NOT_FOUND',
  8: 'RESOURCE_EXHAUSTED',
  9: 'FAILED_PRECONDITION',
  13: 'INTERNAL',
  14: 'UNAVAILABLE',
};

export function errorsDoc(): string {
  const rows = Object.entries(REASONS).map(
    ([reason, spec]) =>
      `| \`${reason}\` | ${CODE_NAMES[spec.grpcCode]} (${spec.grpcCode}) | ${spec.retriable ? 'yes' : 'no'} | ${spec.description} |`,
  );
  return [
    '# Errors',
    '',
    'Every error the broker returns carries a gRPC status code, a readable message that names the offending value and',
    'the limit, and a `google.rpc.Status` in the `grpc-status-details-bin` trailer whose `google.rpc.ErrorInfo` has',
    '`domain: "broker"`, the `reason` below, and structured `metadata` (subject, id, field, size, limit).',
    'The broker never answers UNKNOWN: unexpected failures are INTERNAL with their message.',
    '',
    '| reason | gRPC status | retriable | meaning |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(errorsDoc());
