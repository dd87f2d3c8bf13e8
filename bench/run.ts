// The one benchmark runner: node --import tsx bench/run.ts <scenario> [options]
// (npm run bench -- <scenario>, npm run bench:log, bench:api, bench:replication).
//
// Prints the scenario's Markdown tables (--json: the result as JSON). --save writes the result to
// bench/results/<scenario>.json (--save-as NAME: bench/results/NAME.json) with the command that made it; then
// `npm run bench:results` renders bench/RESULTS.md from those files. Scenario options: see the head of each
// bench/scenarios/<scenario>.ts (the gRPC load scenarios share bench/scenarios/load-settings.ts).
import { mkdir, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { renderResult, type SavedResult } from './support/result.js';
import { SCENARIOS } from './scenarios/index.js';
import { COMMON_OPTIONS } from './scenarios/scenario.js';

const RESULTS_DIR = new URL('./results/', import.meta.url);

function usage(): string {
  const width = Math.max(...Object.keys(SCENARIOS).map((n) => n.length));
  return [
    'usage: bench/run.ts <scenario> [options]   (npm run bench -- <scenario> [options])',
    '',
    ...Object.entries(SCENARIOS).map(([name, s]) => `  ${name.padEnd(width)}  ${s.summary}`),
    '',
    'every scenario: --json (JSON instead of Markdown), --save / --save-as NAME (write bench/results/*.json)',
  ].join('\n');
}

/** The command a user types for these arguments, as recorded in a saved result (without --save and --json). */
function commandOf(scenario: string, args: readonly string[], script: string | undefined): string {
  const kept: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a === '--save-as') i += 1;
    else if (a !== '--save' && a !== '--json' && !a.startsWith('--save-as=')) kept.push(a);
  }
  if (script !== undefined) return `npm run ${script}${kept.length > 0 ? ` -- ${kept.join(' ')}` : ''}`;
  return `npm run bench -- ${[scenario, ...kept].join(' ')}`;
}

const argv = process.argv.slice(2);
// The scenario's own parser checks the rest strictly; here only the name and the common options matter.
const { values, tokens } = parseArgs({
  args: argv,
  options: COMMON_OPTIONS,
  strict: false,
  allowPositionals: true,
  tokens: true,
});
const first = tokens.find((t) => t.kind === 'positional');
// No scenario named: compare, as `npm run bench` always ran.
const name = first?.kind === 'positional' ? first.value : 'compare';
const entry = SCENARIOS[name];
if (entry === undefined || argv.includes('--help')) {
  console.error(entry === undefined ? `unknown scenario "${name}"\n\n${usage()}` : usage());
  process.exit(entry === undefined ? 2 : 0);
}
const args = first === undefined ? argv : argv.filter((_, i) => i !== first.index);
const scenario = await entry.load();
const result = await scenario.run(args);
const saved: SavedResult = {
  scenario: name,
  command: commandOf(name, args, entry.script),
  recordedAt: new Date().toISOString(),
  ...result,
};
if (values.json === true) console.log(JSON.stringify(saved, null, 2));
else console.log(`\n${renderResult(result)}`);
const saveAs = typeof values['save-as'] === 'string' ? values['save-as'] : values.save === true ? name : undefined;
if (saveAs !== undefined) {
  await mkdir(RESULTS_DIR, { recursive: true });
  const file = new URL(`${saveAs}.json`, RESULTS_DIR);
  await writeFile(file, `${JSON.stringify(saved, null, 2)}\n`);
  console.error(`saved ${file.pathname}; npm run bench:results renders bench/RESULTS.md`);
}
