// One row of the fault-injection table (npm run test:faults): what a scenario measured, as data, so the test can
// assert on it and the reporter can print it. A row never hides a broken promise: `broken` lists each one in words.

/** What a scenario promises about acknowledged records: none lost, or lost ones reported as lost (DATA_LOSS). */
export type LossPromise = 'none lost' | 'losses reported';

export interface FaultRow {
  /** The fault, as an operator would name it. */
  readonly fault: string;
  /** What a client (or the operator starting the broker) saw: statuses, health, exit codes. */
  readonly clientSaw: string;
  /** Acknowledged records checked after the fault. */
  readonly acked: number;
  /** Acknowledged records not served with their body afterwards (whatever the status said). */
  readonly lost: number;
  /** Acknowledged ids a new publish would be given again (0 unless the id sequence went backwards); null: unknown. */
  readonly idsReused: number | null;
  /** How long until the broker served again, in words (e.g. "1.2 s (restart)"). */
  readonly recovery: string;
  readonly promise: LossPromise;
  /** The broker's peak resident memory during the fault (VmHWM from /proc), in bytes; absent: not measured. */
  readonly rssPeakBytes?: number;
  /** Records stored more than once after the client retried what failed (0 is the promise); absent: not measured. */
  readonly duplicatesAfterRetries?: number;
  /** Each promise the broker broke, in words; empty when the row passes. */
  readonly broken: readonly string[];
}

/** The prefix of the test diagnostic that carries a row to the table reporter. */
export const ROW_DIAGNOSTIC = 'fault-row ';

export function encodeRow(row: FaultRow): string {
  return ROW_DIAGNOSTIC + JSON.stringify(row);
}

export function decodeRow(message: string): FaultRow | undefined {
  if (!message.startsWith(ROW_DIAGNOSTIC)) return undefined;
  return JSON.parse(message.slice(ROW_DIAGNOSTIC.length)) as FaultRow;
}

const HEADER = [
  'fault',
  'what the client saw',
  'broker RSS peak',
  'acked records lost',
  'duplicates after retries',
  'ids reused',
  'time to recover',
  'verdict',
];

/** "312 MiB", or "n/a" for a scenario that does not measure memory. */
function mebibytes(bytes: number | undefined): string {
  return bytes === undefined ? 'n/a' : `${Math.round(bytes / (1024 * 1024))} MiB`;
}

function cells(row: FaultRow): string[] {
  const lost = row.acked === 0 ? 'n/a' : `${row.lost} of ${row.acked}`;
  const verdict = row.broken.length === 0 ? 'pass' : `FAIL: ${row.broken.join('; ')}`;
  return [
    row.fault,
    row.clientSaw,
    mebibytes(row.rssPeakBytes),
    lost,
    row.duplicatesAfterRetries === undefined ? 'n/a' : String(row.duplicatesAfterRetries),
    row.idsReused === null ? 'unknown' : String(row.idsReused),
    row.recovery,
    verdict,
  ];
}

/** A Markdown table (readable as text, pasteable into an issue). */
export function renderTable(rows: readonly FaultRow[]): string {
  const escape = (s: string): string => s.replaceAll('|', '\\|').replaceAll('\n', ' ');
  const line = (values: string[]): string => `| ${values.map(escape).join(' | ')} |`;
  return [line(HEADER), line(HEADER.map(() => '---')), ...rows.map((r) => line(cells(r)))].join('\n');
}
