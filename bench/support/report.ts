// The rows every scenario reports and the Markdown they print as: the same formatting on a terminal and in
// bench/RESULTS.md (which bench/render-results.ts renders from the saved rows).
import type { Percentiles } from './stats.js';

/** One row of a report: a measurement of one load. Latencies in milliseconds. */
export interface LoadResult extends Percentiles {
  readonly name: string;
  readonly ops: number;
  readonly opsPerSec: number;
  readonly mbPerSec: number;
  readonly errors: number;
  /** Measurement conditions (foreign CPU, first error). */
  readonly note?: string;
}

/** A row with its comparison to the reference of its scenario, or a target and its verdict. */
export type Row = LoadResult & { ratio?: string };

/** What a table shows of a row: not the operation count (rows carried over from the hand-written RESULTS.md lack it). */
export type TableRow = Omit<Row, 'ops'> & { readonly ops?: number };

const n = (v: number): string => (v >= 100 ? Math.round(v).toLocaleString('en') : v.toFixed(2));

/** A Markdown table of load rows; `extra` names a last column filled from each row's `ratio` and `note`. */
export function loadTable(rows: readonly TableRow[], extra = 'vs broker'): string {
  return [
    `| scenario | ops/s | MB/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors | ${extra} |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${n(r.opsPerSec)} | ${r.mbPerSec.toFixed(1)} | ${r.p50Ms.toFixed(2)} | ${r.p90Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${r.p999Ms.toFixed(2)} | ${r.maxMs.toFixed(1)} | ${r.errors} | ${[r.ratio, r.note].filter(Boolean).join('; ')} |`,
    ),
  ].join('\n');
}

/** A table of already formatted cells, for scenarios whose rows are not load rows (log, replication). */
export interface CellTable {
  readonly columns: readonly string[];
  /** 'right' for numeric columns; left when absent. */
  readonly align?: ReadonlyArray<'left' | 'right'>;
  readonly rows: ReadonlyArray<readonly string[]>;
}

export function cellTable(t: CellTable): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [
    line(t.columns),
    line(t.columns.map((_, i) => (t.align?.[i] === 'right' ? '---:' : '---'))),
    ...t.rows.map(line),
  ].join('\n');
}
