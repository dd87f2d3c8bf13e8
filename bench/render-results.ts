// npm run bench:results [-- --check]: renders bench/RESULTS.md from bench/results/ (see support/results-page.ts).
// --check writes nothing and fails when RESULTS.md is not what its inputs render (someone edited it by hand).
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { renderResultsPage } from './support/results-page.js';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
const PAGE = fileURLToPath(new URL('./RESULTS.md', import.meta.url));

const { values } = parseArgs({ options: { check: { type: 'boolean', default: false } } });
const page = await renderResultsPage(RESULTS_DIR);
for (const name of page.unused)
  console.error(`bench/results/${name}.json is not shown: add <!-- results: ${name} --> to RESULTS.template.md`);
if (values.check) {
  const current = await readFile(PAGE, 'utf8');
  if (current !== page.markdown) {
    console.error('bench/RESULTS.md differs from what bench/results/ renders: run npm run bench:results');
    process.exit(1);
  }
} else {
  await writeFile(PAGE, page.markdown);
  console.error(`wrote ${PAGE}`);
}
