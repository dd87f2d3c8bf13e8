// Prints docs/errors.md from core's REASONS table (npx tsx scripts/errors-doc.ts > docs/errors.md); core's errors
// test fails when the two differ, in either direction.
import { GrpcCode, REASONS } from '../core/index.js';

function codeName(code: number): string {
  return Object.entries(GrpcCode).find(([, value]) => value === code)?.[0] ?? `CODE_${code}`;
}

export function errorsDoc(): string {
  const rows = Object.entries(REASONS).map(
    ([reason, spec]) =>
      `| \`${reason}\` | ${codeName(spec.grpcCode)} (${spec.grpcCode}) | ${spec.retriable ? 'yes' : 'no'} | ${spec.exitCode} | ${spec.description} |`,
  );
  return [
    '# Errors',
    '',
    'Every error the broker returns carries a gRPC status code, a readable message that names the offending value and',
    'the limit, and a `google.rpc.Status` in the `grpc-status-details-bin` trailer whose `google.rpc.ErrorInfo` has',
    '`domain: "broker"`, the `reason` below, and structured `metadata` (subject, id, field, size, limit).',
    'The broker never answers UNKNOWN: unexpected failures are INTERNAL with their message.',
    '',
    'The `broker` CLI prints an error as `error: <REASON>: <message>` (and the chain of causes, one per line, when a',
    'start fails) and exits with the exit code below; an error without a reason exits 1.',
    '',
    '| reason | gRPC status | retriable | exit code | meaning |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(errorsDoc());
