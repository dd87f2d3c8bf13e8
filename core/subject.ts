import { InvalidArgumentError } from './errors.js';

/** The longest subject, in bytes of UTF-8. */
export const MAX_SUBJECT_BYTES = 255;

// Whitespace (Unicode White_Space) and control characters (Cc), which would make subjects ambiguous in logs,
// metrics labels and the CLI.
const FORBIDDEN = /[\p{White_Space}\p{Cc}]/u;

/**
 * Checks a subject at the boundary and returns it unchanged. Rules: non-empty, at most 255 bytes of UTF-8,
 * no whitespace or control characters, and well-formed UTF-16 (no lone surrogates, which UTF-8 cannot carry).
 */
export function validateSubject(subject: string, field = 'subject'): string {
  if (subject.length === 0) {
    throw new InvalidArgumentError(field, `${field} must not be empty`);
  }
  const bytes = Buffer.byteLength(subject, 'utf8');
  if (bytes > MAX_SUBJECT_BYTES) {
    throw new InvalidArgumentError(
      field,
      `${field} is ${bytes} bytes of UTF-8, over the limit of ${MAX_SUBJECT_BYTES}`,
    );
  }
  const bad = FORBIDDEN.exec(subject);
  if (bad !== null) {
    const code = bad[0].codePointAt(0) ?? 0;
    throw new InvalidArgumentError(
      field,
      `${field} must not contain whitespace or control characters (found U+${code.toString(16).toUpperCase().padStart(4, '0')} at index ${bad.index})`,
    );
  }
  if (!subject.isWellFormed()) {
    throw new InvalidArgumentError(field, `${field} is not well-formed UTF-16 (lone surrogate)`);
  }
  return subject;
}
