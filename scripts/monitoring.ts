/**
 * Writes the monitoring files generated from one source each, or with --check fails when a committed one differs:
 *   manifests/base/monitoring/broker-alerts.yaml      the Prometheus operator's PrometheusRule, wrapping
 *                                                     rules/broker.rules.yaml (the rules' one source)
 *   manifests/base/monitoring/dashboards/broker.json  the Grafana dashboard, from the panels below
 * Run: npx tsx scripts/monitoring.ts [--check]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { format, resolveConfig } from 'prettier';

const DIR = join(import.meta.dirname, '..', 'manifests', 'base', 'monitoring');
const RULES = join(DIR, 'rules', 'broker.rules.yaml');
const ALERTS = join(DIR, 'broker-alerts.yaml');
const DASHBOARD = join(DIR, 'dashboards', 'broker.json');
const RATE = '$__rate_interval';

interface Target {
  readonly expr: string;
  readonly legend: string;
}
interface Panel {
  readonly title: string;
  readonly unit: string;
  readonly targets: readonly Target[];
  readonly description?: string;
}

const q = (quantile: number, series: string, by = ''): string =>
  `histogram_quantile(${quantile}, sum by (${by ? `${by}, ` : ''}le) (rate(${series}_bucket[${RATE}])))`;

/** The rows of the dashboard: every question of README's "Watch" has a panel. */
const ROWS: ReadonlyArray<{ title: string; panels: readonly Panel[] }> = [
  {
    title: 'Traffic',
    panels: [
      {
        title: 'Publish rate',
        unit: 'rps',
        targets: [
          { expr: `sum by (instance) (rate(broker_log_records_appended_total[${RATE}]))`, legend: '{{instance}}' },
        ],
        description: 'records appended to the log per second (every publish path)',
      },
      {
        title: 'Delivery rate',
        unit: 'rps',
        targets: [
          { expr: `sum by (instance) (rate(broker_messages_delivered_total[${RATE}]))`, legend: '{{instance}}' },
        ],
        description: 'messages written to Subscribe streams per second',
      },
      {
        title: 'Calls by method',
        unit: 'reqps',
        targets: [{ expr: `sum by (method) (rate(method_count[${RATE}]))`, legend: '{{method}}' }],
      },
      {
        title: 'Errors by reason',
        unit: 'reqps',
        targets: [
          { expr: `sum by (method, reason) (rate(broker_errors_total[${RATE}]))`, legend: '{{method}} {{reason}}' },
        ],
        description: 'failed calls per second by the ErrorInfo reason clients get (README: The API)',
      },
    ],
  },
  {
    title: 'Latency and the log',
    panels: [
      {
        title: 'Ack latency (append to acknowledgement)',
        unit: 's',
        targets: [
          { expr: q(0.5, 'broker_log_append_seconds'), legend: 'p50' },
          { expr: q(0.99, 'broker_log_append_seconds'), legend: 'p99' },
        ],
      },
      {
        title: 'Unary call latency p99',
        unit: 's',
        targets: [
          {
            expr: `histogram_quantile(0.99, sum by (method, le) (rate(method_duration_bucket{method!~"Subscribe|PublishStream"}[${RATE}])))`,
            legend: '{{method}}',
          },
        ],
      },
      {
        title: 'Group-commit batch size',
        unit: 'short',
        targets: [
          {
            expr: `sum(rate(broker_log_append_batch_records_sum[${RATE}])) / sum(rate(broker_log_append_batch_records_count[${RATE}]))`,
            legend: 'mean records',
          },
          { expr: q(0.99, 'broker_log_append_batch_records'), legend: 'p99 records' },
        ],
      },
      {
        title: 'Batch write and fsync time p99',
        unit: 's',
        targets: [{ expr: q(0.99, 'broker_log_batch_write_seconds', 'fsync'), legend: 'fsync={{fsync}}' }],
      },
      {
        title: 'Log refusing writes',
        unit: 'bool',
        targets: [{ expr: 'max by (instance) (broker_log_failed)', legend: '{{instance}}' }],
      },
    ],
  },
  {
    title: 'Subscribers',
    panels: [
      {
        title: 'Subscriber lag p99 (records behind the head)',
        unit: 'short',
        targets: [{ expr: q(0.99, 'broker_subscriber_lag_records'), legend: 'p99' }],
      },
      {
        title: 'Open Subscribe streams',
        unit: 'short',
        targets: [{ expr: 'sum by (instance) (active_subscribers)', legend: '{{instance}}' }],
      },
    ],
  },
  {
    title: 'Replication and background jobs',
    panels: [
      {
        title: 'Replication lag (sealed segments not yet in Scylla)',
        unit: 'short',
        targets: [{ expr: 'max by (instance) (broker_replication_lag_segments)', legend: '{{instance}}' }],
      },
      {
        title: 'Acks ahead of the cold tier (acks local: what a lost disk would lose)',
        unit: 's',
        targets: [{ expr: 'max by (instance) (broker_replication_lag_seconds)', legend: '{{instance}}' }],
        description:
          'age of the oldest record acknowledged and not yet streamed to Scylla; broker_replication_lag_records counts them',
      },
      {
        title: 'Dead-lettered jobs',
        unit: 'short',
        targets: [
          {
            expr: 'sum by (instance, task) (broker_jobs_dead_letter)',
            legend: '{{instance}} {{task}}',
          },
        ],
        description: 'jobs that failed every attempt, by task (compaction, replication)',
      },
      {
        title: 'Replicated bytes',
        unit: 'Bps',
        targets: [{ expr: `sum by (instance) (rate(broker_bytes_replicated_total[${RATE}]))`, legend: '{{instance}}' }],
      },
      {
        title: 'Cold tier reachable',
        unit: 'bool',
        targets: [{ expr: 'min by (instance) (broker_cold_tier_up)', legend: '{{instance}}' }],
      },
    ],
  },
  {
    title: 'Resources',
    panels: [
      {
        title: 'Data disk',
        unit: 'bytes',
        targets: [
          {
            expr: 'max by (instance) (broker_storage_size_bytes - broker_storage_free_bytes)',
            legend: 'used {{instance}}',
          },
          { expr: 'max by (instance) (broker_storage_free_bytes)', legend: 'free {{instance}}' },
        ],
      },
      {
        title: 'Bytes appended',
        unit: 'Bps',
        targets: [
          { expr: `sum by (instance) (rate(broker_log_bytes_appended_total[${RATE}]))`, legend: '{{instance}}' },
        ],
      },
      {
        title: 'Connections',
        unit: 'short',
        targets: [
          { expr: 'sum by (instance) (broker_connections_open)', legend: 'open {{instance}}' },
          { expr: `sum by (why) (rate(broker_connections_closed_total[${RATE}]))`, legend: 'closed/s {{why}}' },
        ],
      },
      {
        title: 'Event-loop utilisation',
        unit: 'percentunit',
        targets: [{ expr: 'broker_event_loop_utilization', legend: '{{instance}} {{worker}}' }],
      },
      {
        title: 'CPU and memory',
        unit: 'short',
        targets: [
          { expr: `sum by (instance) (rate(process_cpu_seconds_total[${RATE}]))`, legend: 'cores {{instance}}' },
          { expr: 'sum by (instance) (process_resident_memory_bytes) / 2^30', legend: 'RSS GiB {{instance}}' },
        ],
      },
    ],
  },
  {
    title: 'Cluster',
    panels: [
      {
        title: 'Partitions owned',
        unit: 'short',
        targets: [
          { expr: 'sum by (instance) (broker_partitions_owned)', legend: '{{instance}}' },
          { expr: 'max(broker_partitions_unowned)', legend: 'without a live owner' },
        ],
      },
      {
        title: 'Partition moves (hand-overs)',
        unit: 'short',
        targets: [
          {
            expr: `sum by (instance, event) (increase(broker_partition_moves_total[${RATE}]))`,
            legend: '{{instance}} {{event}}',
          },
        ],
      },
      {
        title: 'Ownership store errors (lease renewals)',
        unit: 'reqps',
        targets: [
          { expr: `sum by (instance) (rate(broker_ownership_store_errors_total[${RATE}]))`, legend: '{{instance}}' },
        ],
      },
    ],
  },
];

const DATASOURCE = { type: 'prometheus', uid: 'prometheus' };

function dashboard(): unknown {
  const panels: unknown[] = [];
  let id = 1;
  let y = 0;
  for (const row of ROWS) {
    panels.push({ type: 'row', id: id++, title: row.title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y } });
    y += 1;
    row.panels.forEach((p, i) => {
      panels.push({
        type: 'timeseries',
        id: id++,
        title: p.title,
        ...(p.description === undefined ? {} : { description: p.description }),
        datasource: DATASOURCE,
        gridPos: { h: 8, w: 8, x: (i % 3) * 8, y: y + Math.floor(i / 3) * 8 },
        fieldConfig: { defaults: { unit: p.unit }, overrides: [] },
        options: { legend: { displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'multi' } },
        targets: p.targets.map((t, j) => ({
          refId: String.fromCharCode(65 + j),
          datasource: DATASOURCE,
          expr: t.expr,
          legendFormat: t.legend,
        })),
      });
    });
    y += Math.ceil(row.panels.length / 3) * 8;
  }
  return {
    uid: 'logbroker',
    title: 'logbroker',
    description: 'Generated by scripts/monitoring.ts: edit the panels there, not here.',
    tags: ['logbroker'],
    timezone: 'browser',
    schemaVersion: 39,
    version: 1,
    editable: false,
    refresh: '30s',
    time: { from: 'now-1h', to: 'now' },
    templating: { list: [] },
    annotations: { list: [] },
    panels,
  };
}

function prometheusRule(): string {
  const rules = readFileSync(RULES, 'utf8');
  const body = rules.slice(rules.indexOf('groups:'));
  const indented = body
    .split('\n')
    .map((line) => (line === '' ? line : `  ${line}`))
    .join('\n');
  return [
    '# Generated by scripts/monitoring.ts from rules/broker.rules.yaml (the one source): edit that, then run',
    '# `npx tsx scripts/monitoring.ts`. The rules for the Prometheus operator; the in-namespace Prometheus reads the',
    '# plain rule file.',
    'apiVersion: monitoring.coreos.com/v1',
    'kind: PrometheusRule',
    'metadata:',
    '  name: broker-alerts',
    '  labels: { app.kubernetes.io/name: broker }',
    'spec:',
    indented,
  ].join('\n');
}

const outputs: ReadonlyArray<[string, string]> = [
  [ALERTS, prometheusRule()],
  // Formatted as the repository's prettier check wants it.
  [DASHBOARD, await format(JSON.stringify(dashboard()), { ...(await resolveConfig(DASHBOARD)), parser: 'json' })],
];

if (process.argv.includes('--check')) {
  const stale = outputs.filter(([file, text]) => {
    try {
      return readFileSync(file, 'utf8') !== text;
    } catch {
      return true;
    }
  });
  for (const [file] of stale) console.error(`${file} is not current: run npx tsx scripts/monitoring.ts`);
  process.exit(stale.length === 0 ? 0 : 1);
}
for (const [file, text] of outputs) writeFileSync(file, text);
