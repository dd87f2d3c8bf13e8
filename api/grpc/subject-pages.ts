import type { ListSubjectsResponse, SubjectInfo } from '../../proto/gen/broker.js';
import { pageToken } from './validate.js';

/** Subjects in the order LevelDB keeps them (their UTF-8 bytes), which is what page tokens continue from. */
export function byUtf8(a: SubjectInfo, b: SubjectInfo): number {
  return Buffer.compare(Buffer.from(a.subject, 'utf8'), Buffer.from(b.subject, 'utf8'));
}

/**
 * One ListSubjects page out of the pages every worker gave for the same request (each holds only the subjects of
 * its partitions, at most `limit` of them, in byte order). The token names the last subject of the merged page,
 * so the next request continues after it on every worker alike.
 */
export function mergeSubjectPages(
  pages: ReadonlyArray<{ subjects: readonly SubjectInfo[]; more: boolean }>,
  limit: number,
): ListSubjectsResponse {
  const merged = pages.flatMap((p) => p.subjects).sort(byUtf8);
  const subjects = merged.slice(0, limit);
  const more = merged.length > limit || pages.some((p) => p.more);
  const last = subjects.at(-1);
  return { subjects, nextPageToken: more && last !== undefined ? pageToken(last.subject) : '' };
}
