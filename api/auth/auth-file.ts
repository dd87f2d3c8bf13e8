import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import { ConfigError } from '../../core/index.js';
import { authFileSchema, type AuthFile } from './auth-file-schema.js';

export const AUTH_FILE_SETTING = 'BROKER_AUTH_FILE';

/**
 * Reads and validates the auth file (YAML, or JSON, which YAML reads too). Every problem is a ConfigError naming
 * the file, the line and column and the field (`identities[2].permissions.publish.allow[0]`), so a broker refuses
 * to start (or a reload keeps the rules it has) with a message that points at the fix.
 */
export async function readAuthFile(path: string): Promise<AuthFile> {
  const text = await readFile(path, 'utf8').catch((err: unknown) => {
    throw new ConfigError(AUTH_FILE_SETTING, `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  });
  return parseAuthFile(text, path);
}

export function parseAuthFile(text: string, path: string): AuthFile {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const syntax = doc.errors[0];
  if (syntax !== undefined) {
    const at = lines.linePos(syntax.pos[0]);
    throw new ConfigError(AUTH_FILE_SETTING, `${path}:${at.line}:${at.col}: ${syntax.message.split('\n')[0] ?? ''}`);
  }
  const parsed = authFileSchema.safeParse(doc.toJS());
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.slice(0, 5).map((issue) => {
    const path_ = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    const at = lines.linePos(offsetOf(doc, path_));
    return `${path}:${at.line}:${at.col}: ${fieldName(path_)}: ${issue.message}`;
  });
  throw new ConfigError(AUTH_FILE_SETTING, problems.join('; '));
}

/** Where the field is in the text, or its nearest enclosing field that is there (a missing key's object). */
function offsetOf(doc: Document, path: ReadonlyArray<string | number>): number {
  for (let depth = path.length; depth >= 0; depth--) {
    const node: unknown = doc.getIn(path.slice(0, depth), true);
    if (isNode(node) && node.range !== undefined && node.range !== null) return node.range[0];
  }
  return 0;
}

function fieldName(path: ReadonlyArray<string | number>): string {
  if (path.length === 0) return '(the file)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}
