/**
 * Subject patterns as NATS writes them: subjects are `.`-separated tokens; `*` matches exactly one token, and `>`,
 * as the last token only, matches one or more. `orders.*` matches `orders.eu` but not `orders` or `orders.eu.1`;
 * `orders.>` matches both of the latter's longer forms; `>` matches every subject.
 */
export class SubjectPattern {
  private readonly tokens: readonly string[];
  private readonly tail: boolean;

  private constructor(readonly source: string) {
    const tokens = source.split('.');
    this.tail = tokens.at(-1) === '>';
    this.tokens = this.tail ? tokens.slice(0, -1) : tokens;
  }

  /** The pattern, or why it is not one (an empty token, `>` before the end, a wildcard inside a token). */
  static parse(source: string): SubjectPattern | string {
    if (source.length === 0) return 'a pattern cannot be empty';
    if (/\s/.test(source)) return 'a pattern cannot hold whitespace';
    const tokens = source.split('.');
    for (const [i, token] of tokens.entries()) {
      if (token.length === 0) return `"${source}" has an empty token`;
      if (token === '>' && i !== tokens.length - 1) return `"${source}": ">" may only be the last token`;
      if (token.length > 1 && (token.includes('*') || token.includes('>'))) {
        return `"${source}": a wildcard must be a whole token ("${token}")`;
      }
    }
    return new SubjectPattern(source);
  }

  matches(subject: string): boolean {
    const parts = subject.split('.');
    if (this.tail ? parts.length <= this.tokens.length : parts.length !== this.tokens.length) return false;
    for (const [i, token] of this.tokens.entries()) {
      if (token !== '*' && token !== parts[i]) return false;
    }
    return true;
  }
}
