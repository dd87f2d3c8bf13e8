import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { SavedResult } from './result.js';
import { GENERATED_NOTE, renderResultsPage, TEMPLATE } from './results-page.js';

const BENCH = fileURLToPath(new URL('../', import.meta.url));

const saved: SavedResult = {
  scenario: 'compare',
  command: 'npm run bench -- compare --duration 2',
  recordedAt: '2026-11-23T10:00:00.000Z',
  heading: 'compare: 1024 B payloads',
  options: {},
  tables: [
    {
      kind: 'load',
      extraColumn: 'ratio to the broker / target',
      rows: [
        {
          name: 'broker fsync=never: PublishStream, 2 conn x 64 in flight',
          ops: 20_944,
          opsPerSec: 10_472.4,
          mbPerSec: 10.72,
          p50Ms: 10.73,
          p90Ms: 17.76,
          p99Ms: 44.35,
          p999Ms: 87.36,
          maxMs: 149.8,
          errors: 0,
          ratio: '1.00x (reference)',
          note: 'foreign CPU 0% during (attempt 1), 0% busy before',
        },
      ],
    },
  ],
};

async function withResultsDir<T>(files: Record<string, string>, work: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-results-'));
  try {
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    return await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('the RESULTS.md renderer', () => {
  describe('when a marker names a saved result', () => {
    it('should put the generated note under the title and the table with its command in place of the marker', async () => {
      const template = '# Results\n\nBefore.\n\n<!-- results: compare -->\n\nAfter.\n';
      const page = await withResultsDir(
        { [TEMPLATE]: template, 'compare.json': JSON.stringify(saved) },
        renderResultsPage,
      );
      assert.equal(
        page.markdown,
        [
          '# Results',
          '',
          GENERATED_NOTE,
          '',
          'Before.',
          '',
          '| scenario | ops/s | MB/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors | ratio to the broker / target |',
          '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
          '| broker fsync=never: PublishStream, 2 conn x 64 in flight | 10,472 | 10.7 | 10.73 | 17.76 | 44.35 | 87.36 | 149.8 | 0 | 1.00x (reference); foreign CPU 0% during (attempt 1), 0% busy before |',
          '',
          '<sub>`bench/results/compare.json`: `npm run bench -- compare --duration 2` (2026-11-23T10:00:00.000Z)</sub>',
          '',
          'After.',
          '',
        ].join('\n'),
      );
      assert.deepEqual(page.unused, []);
    });
  });

  describe('when a marker names a result that was never saved', () => {
    it('should fail with the name of the missing file', async () => {
      await withResultsDir({ [TEMPLATE]: '# R\n\n<!-- results: e2e -->\n' }, async (dir) => {
        await assert.rejects(renderResultsPage(dir), {
          message: `${TEMPLATE} asks for results: e2e, but bench/results/e2e.json cannot be read`,
        });
      });
    });
  });

  describe('when a saved result has no marker', () => {
    it('should list it as unused', async () => {
      const page = await withResultsDir(
        { [TEMPLATE]: '# R\n', 'idle.json': JSON.stringify({ ...saved, scenario: 'idle' }) },
        renderResultsPage,
      );
      assert.deepEqual(page.unused, ['idle']);
    });
  });

  describe('when bench/RESULTS.md is committed', () => {
    it('should be exactly what bench/results renders (nobody edited it by hand)', async () => {
      const page = await renderResultsPage(join(BENCH, 'results'));
      assert.equal(await readFile(join(BENCH, 'RESULTS.md'), 'utf8'), page.markdown);
      assert.deepEqual(page.unused, []);
    });
  });
});
