// Runs the fault-injection test files (npm run test:faults via scripts/test-faults.sh) with node's test runner:
// the spec reporter for pass/fail as usual, and the rows the tests report as diagnostics printed as one table at
// the end. Exits 1 when a test failed or no row was reported. (A programmatic run, because node 20 loads
// --test-reporter modules without the tsx loader.)
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { decodeRow, renderTable, type FaultRow } from './fault-row.js';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: run-suite.ts <file.faults.test.ts>...');
  process.exit(1);
}

const rows: FaultRow[] = [];
let failed = 0;
// One file, one scenario at a time: they kill brokers, fill a disk and stop servers, on two shared cores.
const stream = run({ files, concurrency: 1, timeout: 600_000 });
stream.on('test:diagnostic', (data: { message: string }) => {
  const row = decodeRow(data.message);
  if (row !== undefined) rows.push(row);
});
stream.on('test:fail', (data: { details: { type?: string } }) => {
  if (data.details.type !== 'suite') failed++;
});
stream.compose(new spec()).pipe(process.stdout);
await new Promise<void>((resolve) => stream.once('end', () => resolve()));

process.stdout.write(`\nFault injection, ${rows.length} scenarios:\n\n${renderTable(rows)}\n\n`);
if (failed > 0 || rows.length === 0) {
  process.stdout.write(failed > 0 ? `${failed} failed\n` : 'no scenario reported a row\n');
  process.exitCode = 1;
}
