import type { TraceLink, TraceSpan, Tracing } from '../core/index.js';

/**
 * The span of one group commit: it links every traced append it carries (a batch has many parents, so links, not
 * a parent; the first is its parent, so the batch is recorded whenever one of its appends is). No span when tracing
 * is off or no append of the batch is traced, so untraced batches cost a scan of their links only.
 */
export function startCommitSpan(
  tracing: Tracing | undefined,
  appends: ReadonlyArray<{ readonly link: TraceLink | undefined }>,
  records: number,
  bytes: number,
): TraceSpan | undefined {
  if (tracing === undefined) return undefined;
  const links: TraceLink[] = [];
  for (const a of appends) if (a.link !== undefined) links.push(a.link);
  if (links.length === 0) return undefined;
  const span = tracing.start('log.group_commit', links);
  span.set('records', records);
  span.set('bytes', bytes);
  return span;
}

/** Ends a commit's span with the write's time (with fsync = true, the synced write: mostly the fsync). */
export function endCommitSpan(span: TraceSpan | undefined, writeSeconds: number, fsync: boolean, err?: unknown): void {
  if (span === undefined) return;
  span.set('write_seconds', writeSeconds);
  span.set('fsync', fsync);
  if (err !== undefined) span.fail(err);
  span.end();
}

/**
 * Runs a commit's writes inside its span, so the writes that trace themselves (the cold tier's, acks replicated) are
 * its children; without a span, inside no span at all rather than whatever context scheduled the flush.
 */
export function withinCommit<T>(tracing: Tracing | undefined, span: TraceSpan | undefined, write: () => T): T {
  if (tracing === undefined) return write();
  return span === undefined ? tracing.resume(undefined, write) : tracing.within(span, write);
}

/**
 * `later` to be called in the context active now: an append that waits for its subject's state to load is assigned
 * from the loader's callback, which runs in the first waiter's context, and would link that call instead of its own.
 */
export function inCallerContext<A>(tracing: Tracing | undefined, later: (a: A) => void): (a: A) => void {
  if (tracing === undefined) return later;
  const link = tracing.capture();
  return (a) => tracing.resume(link, () => later(a));
}
