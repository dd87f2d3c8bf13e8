import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { SavedResult } from './result.js';
import { renderResultsPage, TEMPLATE } from './results-page.js';
import {
  failedTarget,
  limitTarget,
  logRatios,
  logRegression,
  ratioTarget,
  targetsTable,
  type TargetRow,
} from './targets-table.js';

const CMD = 'npm run bench -- targets --only stream';
const NATS = { name: 'NATS JetStream', value: 100_000, unit: 'msg/s' };

describe('ratioTarget', () => {
  it('should be met at exactly the ratio asked (PublishStream at 0.5x NATS)', () => {
    const r = ratioTarget('PublishStream >= 0.5x NATS', CMD, { value: 50_000, unit: 'msg/s' }, NATS, 0.5);
    assert.deepEqual(r, {
      target: 'PublishStream >= 0.5x NATS',
      command: CMD,
      figure: '50,000 msg/s',
      peer: 'NATS JetStream: 100,000 msg/s',
      ratio: '0.50x',
      verdict: 'met',
    });
  });

  it('should be missed just under it', () => {
    assert.equal(ratioTarget('t', CMD, { value: 49_999, unit: 'msg/s' }, NATS, 0.5).verdict, 'missed');
  });

  it('should be missed, with no ratio, when the peer measured nothing', () => {
    const r = ratioTarget('t', CMD, { value: 50_000, unit: 'msg/s' }, { ...NATS, value: 0 }, 0.5);
    assert.equal(r.verdict, 'missed');
    assert.equal(r.ratio, 'n/a');
  });
});

describe('limitTarget', () => {
  const at = (value: number, is: '<' | '<=' | '>=', limit: number): string =>
    limitTarget('t', CMD, { value, unit: 'ms' }, { is, value: limit }).verdict;

  it('should miss a strict limit at its edge (ack p99 < 100 ms)', () => {
    assert.equal(at(100, '<', 100), 'missed');
    assert.equal(at(99.9, '<', 100), 'met');
  });

  it('should meet an inclusive ceiling at its edge (CPU <= 25 µs, p99 <= fsync p99 + 2 ms)', () => {
    assert.equal(at(25, '<=', 25), 'met');
    assert.equal(at(25.01, '<=', 25), 'missed');
  });

  it('should meet a floor at its edge (>= 250k deliveries/s)', () => {
    assert.equal(at(250_000, '>=', 250_000), 'met');
    assert.equal(at(249_999, '>=', 250_000), 'missed');
  });

  it('should never meet a limit with a failed measurement (NaN)', () => {
    assert.equal(at(NaN, '<', 100), 'missed');
    assert.equal(at(NaN, '<=', 25), 'missed');
    assert.equal(at(NaN, '>=', 0), 'missed');
  });

  it("should put the peer's figure and the ratio to it beside ours", () => {
    const r = limitTarget(
      't',
      CMD,
      { value: 120, unit: 'µs/call' },
      { is: '<=', value: 80 },
      {
        name: 'Go peer',
        value: 60,
        unit: 'µs/call',
      },
    );
    assert.equal(r.peer, 'Go peer: 60.0 µs/call');
    assert.equal(r.ratio, '2.00x');
    assert.equal(r.verdict, 'missed');
  });
});

describe('failedTarget', () => {
  it('should be missed, saying why', () => {
    const r = failedTarget('every target of the e2e part', CMD, 'broker exited with 1');
    assert.equal(r.verdict, 'missed');
    assert.equal(r.figure, 'not measured: broker exited with 1');
  });
});

const ROWS: TargetRow[] = [
  ratioTarget('PublishStream >= 0.5x NATS JetStream, fsync never', CMD, { value: 51_358, unit: 'msg/s' }, NATS, 0.5),
  limitTarget('ack p99 < 100 ms', CMD, { value: 132, unit: 'ms' }, { is: '<', value: 100 }),
];
const RUN = {
  command: 'npm run bench -- targets',
  startedAt: '2026-11-28 17:30 UTC',
  machine: '2 cores (AMD EPYC), 24 GiB, node v20.20.2, load average 1.0 0.8 0.5 at the start',
};

describe('targetsTable', () => {
  it('should say the command, the date, the machine and how many targets were met', () => {
    const t = targetsTable(ROWS, RUN);
    assert.equal(
      t.title,
      'Issue 14 targets: `npm run bench -- targets`, 2026-11-28 17:30 UTC, 2 cores (AMD EPYC), 24 GiB, node v20.20.2, ' +
        "load average 1.0 0.8 0.5 at the start. 1 of 2 met; every figure and its peer's from this one run.",
    );
  });

  it('should have one row per target with its command, figures, ratio and verdict', () => {
    const t = targetsTable(ROWS, RUN);
    assert.equal(t.kind, 'cells');
    if (t.kind !== 'cells') return;
    assert.deepEqual(t.columns, ['target', 'command', 'figure', "peer's figure, same run", 'ratio', 'verdict']);
    assert.deepEqual(t.rows[0], [
      'PublishStream >= 0.5x NATS JetStream, fsync never',
      `\`${CMD}\``,
      '51,358 msg/s',
      'NATS JetStream: 100,000 msg/s',
      '0.51x',
      '**met**',
    ]);
    assert.deepEqual(t.rows[1], ['ack p99 < 100 ms', `\`${CMD}\``, '132 ms', '–', '–', '**missed**']);
  });
});

describe('bench/RESULTS.md from a saved targets run', () => {
  it('should render the generated table and the command and time that made it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'targets-table-'));
    try {
      const saved: SavedResult = {
        scenario: 'targets',
        command: 'npm run bench -- targets',
        recordedAt: '2026-11-28T17:42:00.000Z',
        heading: 'targets (issue 14)',
        options: {},
        tables: [targetsTable(ROWS, RUN)],
      };
      await writeFile(join(dir, 'targets.json'), JSON.stringify(saved));
      await writeFile(join(dir, TEMPLATE), '# Results\n\n## Issue 14 targets\n\n<!-- results: targets -->\n');
      const page = await renderResultsPage(dir);
      const lines = page.markdown.split('\n');
      assert.ok(
        lines.includes(
          `Issue 14 targets: \`npm run bench -- targets\`, 2026-11-28 17:30 UTC, ${RUN.machine}. 1 of 2 met; every figure and its peer's from this one run.`,
        ),
      );
      assert.ok(lines.includes("| target | command | figure | peer's figure, same run | ratio | verdict |"));
      assert.ok(
        lines.includes('| ack p99 < 100 ms | `npm run bench -- targets --only stream` | 132 ms | – | – | **missed** |'),
      );
      assert.ok(
        lines.includes(
          '<sub>`bench/results/targets.json`: `npm run bench -- targets` (2026-11-28T17:42:00.000Z)</sub>',
        ),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('logRatios and logRegression', () => {
  const log = (ratios: Record<string, string>, recordedAt = '2026-11-28T10:00:00Z'): SavedResult => ({
    scenario: 'log',
    command: 'npm run bench:log',
    recordedAt,
    heading: '# log bench',
    options: {},
    tables: [
      {
        kind: 'cells',
        columns: ['fsync', 'payload', 'writer', 'records/s', 'log / raw'],
        rows: [
          ['never', '100 B', 'raw chained batch of 1000', '585,386', '100%'],
          ...Object.entries(ratios).map(([writer, r]) => ['never', '100 B', writer, '1', r]),
        ],
      },
    ],
  });

  it("should read the log cells' log / raw, leaving out the raw ones", () => {
    const r = logRatios(log({ 'log, 1 appenders': '2%', 'log, 64 appenders': '37%' }));
    assert.deepEqual(
      [...r.cells],
      [
        ['never 100 B log, 1 appenders', 2],
        ['never 100 B log, 64 appenders', 37],
      ],
    );
  });

  it('should give the median of now / baseline over the cells both have', () => {
    const base = logRatios(log({ 'log, 1 appenders': '2%', 'log, 64 appenders': '40%', 'log, 1024 appenders': '60%' }));
    const now = logRatios(log({ 'log, 1 appenders': '3%', 'log, 64 appenders': '36%', 'log, 1024 appenders': '60%' }));
    assert.deepEqual(logRegression(now, base), { median: 1, cells: 3 });
  });

  it('should give NaN (a missed target) when no cell is in both', () => {
    const r = logRegression(logRatios(log({ 'log, 1 appenders': '3%' })), logRatios(log({})));
    assert.ok(Number.isNaN(r.median));
    assert.equal(r.cells, 0);
  });
});
