// The settings table of README.md, made from core's SETTINGS (and so from DEFAULTS and the enums): prints it, or
// with --write replaces the table in README.md. core/config/load-config.test.ts fails when the README is stale.
import { readFile, writeFile } from 'node:fs/promises';
import { SETTINGS } from '../core/index.js';

const HEADER = '| variable | default | meaning |';

export function settingsTable(): string {
  const rows = SETTINGS.map((s) => `| \`${s.env}\` | \`${s.default}\` | ${s.help.replaceAll('|', '\\|')} |`);
  return [HEADER, '| --- | --- | --- |', ...rows].join('\n');
}

/** The README with its settings table (from the header to the first blank line after it) replaced. */
export function withSettingsTable(readme: string): string {
  const start = readme.indexOf(`${HEADER}\n`);
  if (start < 0) return readme;
  const end = readme.indexOf('\n\n', start);
  return readme.slice(0, start) + settingsTable() + (end < 0 ? '\n' : readme.slice(end));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes('--write')) {
    const path = new URL('../README.md', import.meta.url);
    await writeFile(path, withSettingsTable(await readFile(path, 'utf8')));
  } else {
    console.log(settingsTable());
  }
}
