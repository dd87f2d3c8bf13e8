import type { ColdStore, Tracing } from '../../core/index.js';
import { inSpan } from './in-span.js';

/**
 * The cold store with a span per CQL call (`cql writeSegment`, `cql writeCommit`, `cql get`, `cql readRange`), a child
 * of the span active when it is called: a replication job's, a group commit's (replicated acks) or a read's. The
 * store itself when tracing is off.
 */
export function tracedColdStore(store: ColdStore, tracing: Tracing | undefined): ColdStore {
  if (tracing === undefined) return store;
  const cql = { 'db.system': 'cassandra' };
  return {
    writeSegment: (segment, records, retentionMs) =>
      inSpan(tracing, 'cql writeSegment', { ...cql, subject: segment.subject, base_offset: segment.baseOffset }, () =>
        store.writeSegment(segment, records, retentionMs),
      ),
    writeCommit: (segments, retentionMs) =>
      inSpan(tracing, 'cql writeCommit', { ...cql, segments: segments.length }, () =>
        store.writeCommit(segments, retentionMs),
      ),
    get: (subject, offset) => inSpan(tracing, 'cql get', { ...cql, subject }, () => store.get(subject, offset)),
    readRange: (subject, from, before, limits) =>
      inSpan(tracing, 'cql readRange', { ...cql, subject }, () => store.readRange(subject, from, before, limits)),
    close: () => store.close(),
  };
}
