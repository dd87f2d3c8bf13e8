import { InvariantError, type LogRecord, type SegmentInfo } from '../core/index.js';

/**
 * Refuses a record that is not the segment's (another subject, or an offset outside it): a cold store keys rows by
 * segment, so a stray record would be stored where no read would look for it. Only a bug in the caller (the log's
 * readSegment) can hand one over, hence an invariant error, not bad input.
 */
export function checkRecordInSegment(segment: SegmentInfo, record: LogRecord): void {
  if (record.subject === segment.subject && record.offset >= segment.baseOffset && record.offset <= segment.lastOffset)
    return;
  throw new InvariantError(
    `record ${record.subject}@${record.offset} is not in segment ${segment.subject}@${segment.baseOffset}..${segment.lastOffset}`,
    { metadata: { subject: record.subject, offset: String(record.offset), baseOffset: String(segment.baseOffset) } },
  );
}
