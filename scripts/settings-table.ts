// Prints the settings table for README.md from core's SETTINGS, so the docs are made from the code.
import { SETTINGS } from '../core/index.js';

export function settingsTable(): string {
  const rows = SETTINGS.map(
    (s) => `| \`${s.env}\` | \`${s.default === '' ? '(unset)' : s.default}\` | ${s.help.replaceAll('|', '\\|')} |`,
  );
  return ['| variable | default | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(settingsTable());
}
