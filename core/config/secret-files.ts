import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';

/**
 * The `<NAME>_FILE` convention of Docker and Kubernetes secrets: a setting may be given as the path of a file that
 * holds its value (a Secret mounted as files), so the secret never sits in the pod spec or the process environment
 * other processes can read. Every setting takes it, except one that has a `_FILE` setting of its own. Trailing line
 * ends are dropped (`echo` and most editors add one); a variable set both ways is refused, since silently preferring
 * one would hide a stale copy.
 */
export function withSecretFiles(
  env: Readonly<Record<string, string | undefined>>,
  variables: readonly string[],
): Readonly<Record<string, string | undefined>> {
  const own = new Set(variables);
  const resolved: Record<string, string | undefined> = { ...env };
  for (const variable of variables) {
    const fileVariable = `${variable}_FILE`;
    const path = env[fileVariable]?.trim();
    if (own.has(fileVariable) || path === undefined || path === '') continue;
    if ((env[variable]?.trim() ?? '') !== '') {
      throw new ConfigError(fileVariable, `set ${variable} or ${fileVariable}, not both`);
    }
    resolved[variable] = readSecret(fileVariable, path);
  }
  return resolved;
}

function readSecret(variable: string, path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ConfigError(variable, `cannot read ${path} (${code})`, { cause: err });
  }
  const value = text.replace(/[\r\n]+$/, '');
  // Says which file, never what it holds: the value is a secret.
  if (value.trim() === '') throw new ConfigError(variable, `${path} is empty`);
  return value;
}
