// The "Issue 14 targets" table (npm run bench -- targets): one row per target with the command that measured it,
// the broker's figure, the peer's or the reference's figure from the same run, their ratio and the verdict. Pure:
// the scenario measures, this turns figures into rows, and bench/RESULTS.md renders the saved table as it is.
import type { ResultTable, SavedResult } from './result.js';
import { ceilingVerdict, limitVerdict, ratioVerdict, times, type Verdict } from './verdict.js';

export interface TargetRow {
  readonly target: string;
  readonly command: string;
  readonly figure: string;
  readonly peer: string;
  readonly ratio: string;
  readonly verdict: Verdict;
}

/** A figure with the words that say what it is ("51,358 msg/s"). */
export interface Figure {
  readonly value: number;
  readonly unit: string;
}

const whole = (v: number): string =>
  Number.isFinite(v) ? (Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en') : v.toFixed(1)) : 'n/a';

export function formatFigure(f: Figure): string {
  return `${whole(f.value)} ${f.unit}`;
}

/** A target of the form "ours >= atLeast x the peer's" (rates). */
export function ratioTarget(
  target: string,
  command: string,
  ours: Figure,
  peer: Figure & { readonly name: string },
  atLeast: number,
): TargetRow {
  return {
    target,
    command,
    figure: formatFigure(ours),
    peer: `${peer.name}: ${formatFigure(peer)}`,
    ratio: peer.value > 0 && Number.isFinite(ours.value) ? times(ours.value, peer.value) : 'n/a',
    verdict: ratioVerdict(ours.value, peer.value, atLeast),
  };
}

/** How a figure is judged against a fixed limit: under it ('<'), at most ('<='), or at least ('>='). */
export interface Limit {
  readonly is: '<' | '<=' | '>=';
  readonly value: number;
}

/** Met or missed against a fixed limit; NaN never meets one. */
export function limitMet(value: number, limit: Limit): Verdict {
  if (limit.is === '<') return limitVerdict(value, limit.value);
  if (limit.is === '<=') return ceilingVerdict(value, limit.value);
  return value >= limit.value ? 'met' : 'missed';
}

/**
 * A target of the form "ours < limit" (or <=, >=), with the peer's or the reference's figure beside it when the run
 * measured one (the ratio is then ours / the peer's).
 */
export function limitTarget(
  target: string,
  command: string,
  ours: Figure,
  limit: Limit,
  peer?: Figure & { readonly name: string },
): TargetRow {
  return {
    target,
    command,
    figure: formatFigure(ours),
    peer: peer === undefined ? '–' : `${peer.name}: ${formatFigure(peer)}`,
    ratio: peer !== undefined && peer.value > 0 && Number.isFinite(ours.value) ? times(ours.value, peer.value) : '–',
    verdict: limitMet(ours.value, limit),
  };
}

/** A target the run could not measure (a part that failed): missed, with the reason as its figure. */
export function failedTarget(target: string, command: string, reason: string): TargetRow {
  return { target, command, figure: `not measured: ${reason}`, peer: '–', ratio: '–', verdict: 'missed' };
}

/** Where and when: every table of the page says it. */
export interface RunContext {
  readonly command: string;
  readonly startedAt: string;
  readonly machine: string;
}

export function targetsTable(rows: readonly TargetRow[], run: RunContext): ResultTable {
  const met = rows.filter((r) => r.verdict === 'met').length;
  return {
    kind: 'cells',
    title:
      `Issue 14 targets: \`${run.command}\`, ${run.startedAt}, ${run.machine}. ` +
      `${met} of ${rows.length} met; every figure and its peer's from this one run.`,
    columns: ['target', 'command', 'figure', "peer's figure, same run", 'ratio', 'verdict'],
    rows: rows.map((r) => [r.target, `\`${r.command}\``, r.figure, r.peer, r.ratio, `**${r.verdict}**`]),
  };
}

export interface LogCells {
  readonly recordedAt: string;
  readonly cells: Map<string, number>;
}

/** The `log / raw` percentage of every log cell (not the raw ones) of a bench:log result, by fsync, payload, writer. */
export function logRatios(r: Pick<SavedResult, 'tables' | 'recordedAt'>): LogCells {
  const cells = new Map<string, number>();
  const table = r.tables[0];
  if (table?.kind === 'cells') {
    const at = (name: string): number => table.columns.indexOf(name);
    for (const row of table.rows) {
      const writer = row[at('writer')] ?? '';
      const ratio = Number.parseFloat(row[at('log / raw')] ?? '');
      if (writer.startsWith('log') && Number.isFinite(ratio))
        cells.set(`${row[at('fsync')]} ${row[at('payload')]} ${writer}`, ratio);
    }
  }
  return { recordedAt: r.recordedAt, cells };
}

/** The median of the cells' now / baseline, over the cells both runs have. */
export function logRegression(now: LogCells, baseline: LogCells): { median: number; cells: number } {
  const ratios = [...now.cells]
    .map(([key, v]) => v / (baseline.cells.get(key) ?? NaN))
    .filter((x) => Number.isFinite(x))
    .sort((a, b) => a - b);
  return { median: ratios[Math.floor(ratios.length / 2)] ?? NaN, cells: ratios.length };
}
