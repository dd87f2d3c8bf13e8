import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { queryRange, type Prometheus } from './prometheus.js';

const DASHBOARD = join(import.meta.dirname, '..', '..', 'manifests', 'base', 'monitoring', 'dashboards', 'broker.json');
/** Grafana's $__rate_interval for a Prometheus that scrapes every second. */
const RATE_INTERVAL = '10s';
/** The panels shown first, by title prefix (one per question an operator asks first); others with data fill up. */
const PREFERRED = [
  'Publish rate',
  'Delivery rate',
  'Calls by method',
  'Ack latency',
  'Unary call latency',
  'Errors by reason',
  'Group-commit batch size',
  'Batch write and fsync time',
  'Subscriber lag',
  'Event-loop utilisation',
  'Connections',
  'CPU and memory',
];
const PANELS = 12;

interface DashboardPanel {
  readonly type: string;
  readonly title: string;
  readonly fieldConfig?: { defaults?: { unit?: string } };
  readonly targets?: ReadonlyArray<{ expr: string; legendFormat?: string }>;
}

/** What the page draws: one chart per panel, its series aligned on one time axis (null where a series has none). */
export interface ChartPanel {
  readonly title: string;
  readonly unit: string;
  readonly labels: string[];
  readonly data: Array<Array<number | null>>;
}

function legend(format: string | undefined, metric: Record<string, string>): string {
  if (format === undefined || format === '') return JSON.stringify(metric);
  return format.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, name: string) => metric[name] ?? '').trim();
}

/** Every target of a panel over the range, as uPlot's columns: [times, series...]. */
async function chartOf(
  prometheus: Prometheus,
  panel: DashboardPanel,
  range: { start: number; end: number; step: number },
): Promise<ChartPanel> {
  const times: number[] = [];
  for (let t = range.start; t <= range.end; t += range.step) times.push(t);
  const labels: string[] = [];
  const data: Array<Array<number | null>> = [times];
  for (const target of panel.targets ?? []) {
    const promql = target.expr.replaceAll('$__rate_interval', RATE_INTERVAL);
    for (const series of await queryRange(prometheus, promql, range)) {
      const byTime = new Map(series.values.map(([t, v]) => [Math.round(t), Number(v)]));
      labels.push(legend(target.legendFormat, series.metric));
      data.push(times.map((t) => (Number.isFinite(byTime.get(t)) ? (byTime.get(t) ?? null) : null)));
    }
  }
  return { title: panel.title, unit: panel.fieldConfig?.defaults?.unit ?? 'short', labels, data };
}

/** The dashboard's panels that have data over the range, the preferred ones first, as the generated JSON has them. */
export async function dashboardCharts(
  prometheus: Prometheus,
  range: { start: number; end: number; step: number },
): Promise<ChartPanel[]> {
  const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as { panels: DashboardPanel[] };
  const panels = dashboard.panels.filter((p) => p.type === 'timeseries');
  const rank = (p: DashboardPanel): number => {
    const i = PREFERRED.findIndex((prefix) => p.title.startsWith(prefix));
    return i < 0 ? PREFERRED.length : i;
  };
  const charts: ChartPanel[] = [];
  for (const panel of [...panels].sort((a, b) => rank(a) - rank(b))) {
    const chart = await chartOf(prometheus, panel, range);
    if (chart.labels.length > 0) charts.push(chart);
    if (charts.length === PANELS) break;
  }
  return charts;
}

/** A page of uPlot charts (the library inlined: the page needs no server), 3 panels a row like the dashboard. */
export async function chartPage(charts: readonly ChartPanel[], caption: string): Promise<string> {
  const require = createRequire(import.meta.url);
  const uplotJs = await readFile(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
  const uplotCss = await readFile(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');
  const script = await readFile(join(import.meta.dirname, 'charts.js'), 'utf8');
  return `<!doctype html><html><head><meta charset="utf-8"><title>logbroker</title>
<style>${uplotCss}
body { margin: 0; padding: 10px 12px; font: 12px "DejaVu Sans", sans-serif; background: #f4f5f5; color: #24292e; }
h1 { font-size: 15px; margin: 0 0 8px; font-weight: 600; } h1 small { font-weight: 400; color: #6a737d; }
#grid { display: grid; grid-template-columns: repeat(3, 1fr); gap: 8px; }
.panel { background: #fff; border: 1px solid #dcdee0; border-radius: 3px; padding: 4px 6px 0; }
.panel h2 { font-size: 12px; margin: 0 0 2px; font-weight: 600; }
.u-legend { font-size: 11px; } .u-legend th { font-weight: 400; }
</style></head><body><h1>logbroker <small>${caption}</small></h1><div id="grid"></div>
<script>${uplotJs}</script><script>const CHARTS = ${JSON.stringify(charts)};</script><script>${script}</script>
</body></html>`;
}
