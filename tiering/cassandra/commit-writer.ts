import type cassandra from 'cassandra-driver';
import { UnavailableError, expiresAtMs, type CommitSegment, type LogRecord } from '../../core/index.js';
import { commitSpan } from '../record-in-segment.js';
import { ttlSeconds } from './ttl.js';

export interface CommitWriteOptions {
  readonly keyspace: string;
  /** cassandra-driver's consistency number. */
  readonly consistency: number;
  readonly retentionMs: number;
  /** The clock reading the TTLs are computed at, ms since the epoch. */
  readonly now: number;
  readonly expiryLimitMs: number;
  /** Statements (batches or single rows) in flight at once. */
  readonly concurrency: number;
}

/**
 * Body bytes per unlogged batch: Cassandra refuses a batch above batch_size_fail_threshold (50 KiB by default) and
 * a batch of one partition's rows is one mutation, so small records go many to a statement and big ones alone.
 */
const BATCH_BODY_BYTES = 32 * 1024;
const BATCH_ROWS = 32;

type Statement = { query: string; params: unknown[] };

/**
 * The CQL writes of one replicated group commit (ColdStore.writeCommit): each active segment's record rows as
 * unlogged batches of its one CQL partition (subject, segment_base), and its segments row raised to the commit's last
 * offset, all in parallel; resolves once every statement is acknowledged at the store's consistency. The segments
 * row's TTL is at least a retention from now, so the rows earlier commits wrote stay findable; the sealed segment's
 * copy (writeSegment) later writes the row exactly.
 */
export async function writeCommitRows(
  client: cassandra.Client,
  segments: readonly CommitSegment[],
  o: CommitWriteOptions,
): Promise<void> {
  const pending: Array<Statement | Statement[]> = [];
  for (const commit of segments) pending.push(...commitStatements(commit, o));
  const queryOptions = { prepare: true, consistency: o.consistency, isIdempotent: true };
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let item = pending[next++]; item !== undefined; item = pending[next++]) {
      if (Array.isArray(item)) await client.batch(item, { ...queryOptions, logged: false });
      else await client.execute(item.query, item.params, queryOptions);
    }
  };
  const workers = Array.from({ length: Math.min(o.concurrency, pending.length) }, worker);
  // allSettled: no statement is left running behind a rejection (the log retries after recovering).
  const failed = (await Promise.allSettled(workers)).find((r) => r.status === 'rejected');
  if (failed !== undefined) {
    const cause = failed.reason as Error;
    throw new UnavailableError(`cold store: writing a replicated commit failed: ${cause.message}`, { cause });
  }
}

/** One segment's statements: its record rows in batches (a lone row as a plain statement), then its segments row. */
function commitStatements(commit: CommitSegment, o: CommitWriteOptions): Array<Statement | Statement[]> {
  const span = commitSpan(commit);
  if (span === undefined) return [];
  const out: Array<Statement | Statement[]> = [];
  let batch: Statement[] = [];
  let batchBytes = 0;
  const flush = (): void => {
    if (batch.length === 1 && batch[0] !== undefined) out.push(batch[0]);
    else if (batch.length > 1) out.push(batch);
    batch = [];
    batchBytes = 0;
  };
  let latestExpiry = o.retentionMs > 0 ? o.now + o.retentionMs : Infinity;
  for (const r of commit.records) {
    const expiry = expiresAtMs(r.publishedAtMs, r.expirationSeconds, o.retentionMs);
    const ttl = ttlSeconds(expiry, o.now, o.expiryLimitMs);
    if (ttl === undefined) continue;
    latestExpiry = Math.max(latestExpiry, expiry);
    if (batch.length > 0 && (batchBytes + r.body.byteLength > BATCH_BODY_BYTES || batch.length >= BATCH_ROWS)) flush();
    batch.push(recordRow(o.keyspace, commit.baseOffset, r, ttl));
    batchBytes += r.body.byteLength;
  }
  flush();
  const segmentTtl = ttlSeconds(latestExpiry, o.now, o.expiryLimitMs) ?? 1;
  out.push({
    query: `UPDATE ${o.keyspace}.segments USING TTL ? SET last_offset = ? WHERE subject = ? AND base_offset = ?`,
    params: [segmentTtl, span.lastOffset, span.subject, span.baseOffset],
  });
  return out;
}

/** The INSERT of one record row with its TTL (0: none): a replicated commit's rows and a sealed segment's copy alike. */
export function recordRow(keyspace: string, segmentBase: number, r: LogRecord, ttl: number): Statement {
  return {
    query: `INSERT INTO ${keyspace}.records (subject, segment_base, offset, published_at_ms, expiration_seconds, body) VALUES (?, ?, ?, ?, ?, ?) USING TTL ?`,
    params: [
      r.subject,
      segmentBase,
      r.offset,
      r.publishedAtMs,
      r.expirationSeconds,
      Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength),
      ttl,
    ],
  };
}
