import { InvariantError, type CommitSegment, type LogRecord, type SegmentInfo } from '../core/index.js';

type SegmentSpan = Pick<SegmentInfo, 'subject' | 'baseOffset' | 'lastOffset'>;

/**
 * Refuses a record that is not the segment's (another subject, or an offset outside it): a cold store keys rows by
 * segment, so a stray record would be stored where no read would look for it. Only a bug in the caller (the log's
 * readSegment) can hand one over, hence an invariant error, not bad input.
 */
export function checkRecordInSegment(segment: SegmentSpan, record: LogRecord): void {
  if (record.subject === segment.subject && record.offset >= segment.baseOffset && record.offset <= segment.lastOffset)
    return;
  throw new InvariantError(
    `record ${record.subject}@${record.offset} is not in segment ${segment.subject}@${segment.baseOffset}..${segment.lastOffset}`,
    { metadata: { subject: record.subject, offset: String(record.offset), baseOffset: String(segment.baseOffset) } },
  );
}

/**
 * The span a commit's records reach in their active segment (its base to its last record), each record checked to
 * be in it; undefined for a commit with no records.
 */
export function commitSpan(commit: CommitSegment): SegmentSpan | undefined {
  const last = commit.records.at(-1);
  if (last === undefined) return undefined;
  const span = { subject: commit.subject, baseOffset: commit.baseOffset, lastOffset: last.offset };
  for (const record of commit.records) checkRecordInSegment(span, record);
  return span;
}
