import type { SegmentInfo } from '../../core/index.js';

/**
 * Subjects compared as LevelDB orders their keys: by the bytes of their UTF-8 (a subject that is a prefix of another
 * comes first, as its key's 0x00 terminator sorts before any byte of a subject). Not JavaScript's string order,
 * which compares UTF-16 code units and differs from it above U+FFFF.
 */
export function compareSubjects(a: string, b: string): number {
  if (a === b) return 0;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Segments in (subject bytes, baseOffset) order: the order of each partition's segment keys. */
export function compareSegments(a: SegmentInfo, b: SegmentInfo): number {
  return compareSubjects(a.subject, b.subject) || a.baseOffset - b.baseOffset;
}

/**
 * The first `limit` items of several pages, each in `keyOf` order and each holding the first `limit` items of its
 * partition after the same bound: the first `limit` of all partitions after it. A page of one partition passes as
 * it is; otherwise each item's key is made once and the items sorted by it.
 */
export function mergePages<T>(
  pages: readonly (readonly T[])[],
  limit: number,
  keyOf: (item: T) => { bytes: Buffer; offset: number },
): T[] {
  const nonEmpty = pages.filter((page) => page.length > 0);
  if (nonEmpty.length <= 1) return (nonEmpty[0] ?? []).slice(0, Math.max(0, limit));
  const keyed = nonEmpty.flat().map((item) => ({ item, key: keyOf(item) }));
  keyed.sort((a, b) => Buffer.compare(a.key.bytes, b.key.bytes) || a.key.offset - b.key.offset);
  return keyed.slice(0, Math.max(0, limit)).map((k) => k.item);
}

/** Subject names merged from partitions' pages (see mergePages). */
export function mergeSubjectNames(pages: readonly string[][], limit: number): string[] {
  return mergePages(pages, limit, (subject) => ({ bytes: Buffer.from(subject, 'utf8'), offset: 0 }));
}

/** Segments merged from partitions' pages (see mergePages). */
export function mergeSegmentPages(pages: readonly SegmentInfo[][], limit: number): SegmentInfo[] {
  return mergePages(pages, limit, (info) => ({ bytes: Buffer.from(info.subject, 'utf8'), offset: info.baseOffset }));
}
