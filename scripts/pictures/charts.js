// Runs in the page dashboard-page.ts writes: draws CHARTS (the dashboard's panels' series) with uPlot.
/* global document, uPlot, CHARTS */

const COLORS = ['#7eb26d', '#eab839', '#6ed0e0', '#ef843c', '#e24d42', '#1f78c1', '#ba43a9', '#705da0'];
const MAX_SERIES = 6;

function compact(v, digits) {
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toFixed(digits) + 'G';
  if (a >= 1e6) return (v / 1e6).toFixed(digits) + 'M';
  if (a >= 1e3) return (v / 1e3).toFixed(digits) + 'k';
  return a >= 10 || v === 0 ? v.toFixed(0) : v.toFixed(digits);
}

function bytes(v) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return (Math.abs(v) >= 10 || v === 0 ? v.toFixed(0) : v.toFixed(1)) + ' ' + units[i];
}

/** Grafana's units, as the dashboard's panels name them. */
function formatter(unit) {
  switch (unit) {
    case 's':
      return (v) =>
        v === 0
          ? '0'
          : v >= 1
            ? v.toFixed(1) + ' s'
            : v >= 1e-2
              ? (v * 1e3).toFixed(0) + ' ms'
              : v >= 1e-3
                ? (v * 1e3).toFixed(1) + ' ms'
                : (v * 1e6).toFixed(0) + ' µs';
    case 'rps':
    case 'reqps':
      return (v) => compact(v, 1) + '/s';
    case 'bytes':
      return bytes;
    case 'Bps':
      return (v) => bytes(v) + '/s';
    case 'percentunit':
      return (v) => (v * 100).toFixed(0) + '%';
    default:
      return (v) => compact(v, 1);
  }
}

/** The busiest series first (by mean), so a panel with many keeps the ones that matter. */
function busiest(chart) {
  const mean = (col) => col.reduce((s, v) => s + (v ?? 0), 0) / col.length;
  const order = chart.labels.map((_, i) => i).sort((a, b) => mean(chart.data[b + 1]) - mean(chart.data[a + 1]));
  const keep = order.slice(0, MAX_SERIES);
  return { labels: keep.map((i) => chart.labels[i]), data: [chart.data[0], ...keep.map((i) => chart.data[i + 1])] };
}

const grid = document.getElementById('grid');
for (const chart of CHARTS) {
  const panel = document.createElement('div');
  panel.className = 'panel';
  const title = document.createElement('h2');
  title.textContent = chart.title;
  panel.appendChild(title);
  grid.appendChild(panel);
  const { labels, data } = busiest(chart);
  const fmt = formatter(chart.unit);
  new uPlot(
    {
      width: panel.clientWidth - 12,
      height: 158,
      legend: { live: false },
      cursor: { show: false },
      series: [
        {},
        ...labels.map((label, i) => ({
          label,
          stroke: COLORS[i % COLORS.length],
          width: 1.5,
          points: { show: false },
        })),
      ],
      axes: [
        { stroke: '#6a737d', grid: { stroke: '#eceeef' }, size: 28 },
        { stroke: '#6a737d', grid: { stroke: '#eceeef' }, size: 66, values: (_, ticks) => ticks.map(fmt) },
      ],
      scales: { y: { range: (_, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] } },
    },
    data,
    panel,
  );
}
document.body.dataset.drawn = String(CHARTS.length);
