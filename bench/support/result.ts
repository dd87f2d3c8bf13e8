// What a scenario hands back to the runner: printed as Markdown (or JSON with --json), and saved with --save as
// bench/results/<name>.json, from which bench/render-results.ts renders bench/RESULTS.md.
import { cellTable, loadTable, type CellTable, type TableRow } from './report.js';

export type ResultTable = { readonly title?: string } & (
  | { readonly kind: 'load'; readonly extraColumn: string; readonly rows: readonly TableRow[] }
  | ({ readonly kind: 'cells' } & CellTable)
);

export interface ScenarioResult {
  /** The first line printed: what was measured and how (payload, seconds, warm-up). */
  readonly heading: string;
  /** The options the scenario ran with, after defaults. */
  readonly options: Readonly<Record<string, unknown>>;
  readonly tables: readonly ResultTable[];
}

/** A result as saved to bench/results/<name>.json. */
export interface SavedResult extends ScenarioResult {
  readonly scenario: string;
  /** The command that produced it (or, for figures carried over from the hand-written RESULTS.md, the commands). */
  readonly command: string;
  /** When it ran: an ISO time, or the time span written in RESULTS.md for carried-over figures. */
  readonly recordedAt: string;
}

export function renderTable(t: ResultTable): string {
  const body = t.kind === 'load' ? loadTable(t.rows, t.extraColumn) : cellTable(t);
  return t.title === undefined ? body : `${t.title}\n\n${body}`;
}

/** The Markdown a scenario prints: its heading, then each table. */
export function renderResult(r: ScenarioResult): string {
  return [r.heading, ...r.tables.map(renderTable)].join('\n\n');
}
