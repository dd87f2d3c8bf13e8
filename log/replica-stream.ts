import {
  UnavailableError,
  type ColdStore,
  type CommitSegment,
  type LogRecord,
  type SegmentInfo,
  type SegmentRef,
} from '../core/index.js';
import { commitSegments } from './replica-commit.js';

/**
 * BROKER_ACKS=local with a cold tier (log/README "Streamed acks"): the log streams its acknowledged records to the
 * cold tier behind the acks, so a lost disk loses at most the lag this reports.
 */
export interface ReplicaStreamSettings {
  /** The cold tier (ColdStore.writeCommit, the rows acks=replicated writes). */
  readonly store: Pick<ColdStore, 'writeCommit'>;
  /** BROKER_RETENTION, ms, for the rows' TTLs (0 = for ever). */
  readonly retentionMs: number;
  /**
   * Bytes of queued records (bodies plus a per-record overhead) past which the queue is dropped: its segments
   * reach the cold tier by the sealed-segment copy instead. A PartitionedLog splits it over its partitions.
   */
  readonly maxQueuedBytes: number;
  /** BROKER_MAX_REPLICATION_LAG, ms: appends are refused (UNAVAILABLE) while the lag is above it; 0 = never. */
  readonly maxLagMs: number;
  /** A write waits this long after its first commit so later ones share it (linger.ms). @defaultValue 10 ms */
  readonly lingerMs?: number;
  /** Backoff of a failed write's retries. @defaultValue 100 ms doubling to 5 s */
  readonly retry?: { readonly firstMs: number; readonly maxMs: number };
  /** Told once when writes start failing (with the error) and once when one succeeds again (undefined). */
  readonly onOutage?: (err: Error | undefined) => void;
  /** The clock, ms. @defaultValue Date.now */
  readonly now?: () => number;
  /** Where the process's streams report their lag together (the broker's gauges read it). @defaultValue none */
  readonly board?: ReplicationLagBoard;
}

/** An acknowledged append as the group commit holds it (replica-commit.ts). */
export interface StreamedAppend {
  readonly record: LogRecord;
  readonly segmentBase: number;
}

/** Records committed locally and not (yet known to be) in the cold tier, and when the oldest of them was committed. */
export interface ReplicationLag {
  readonly records: number;
  /** ms since the epoch; undefined when there are none. */
  readonly oldestAtMs: number | undefined;
}

/**
 * The streams of a process's open logs (every partition's, each from its open to its close), so the lag is read as
 * one: their records summed, the oldest of their oldest.
 */
export class ReplicationLagBoard {
  private readonly streams = new Set<{ lag(): ReplicationLag }>();

  add(stream: { lag(): ReplicationLag }): void {
    this.streams.add(stream);
  }

  delete(stream: { lag(): ReplicationLag }): void {
    this.streams.delete(stream);
  }

  lag(): ReplicationLag {
    let records = 0;
    let oldestAtMs: number | undefined;
    for (const stream of this.streams) {
      const l = stream.lag();
      records += l.records;
      if (l.oldestAtMs !== undefined && (oldestAtMs === undefined || l.oldestAtMs < oldestAtMs))
        oldestAtMs = l.oldestAtMs;
    }
    return { records, oldestAtMs };
  }
}

/** Counted per record beside its body: the record object, its key in the write and the queue's share. */
const RECORD_OVERHEAD_BYTES = 128;
const DEFAULT_RETRY = { firstMs: 100, maxMs: 5_000 };
const DEFAULT_LINGER_MS = 10;
/** Segments whose written run is tracked at once (about 100 bytes each); beyond, new ones are copied as before. */
const MAX_TRACKED_SEGMENTS = 100_000;

interface Queued {
  appends: readonly StreamedAppend[];
  atMs: number;
}

/** Records of one segment the streamer no longer writes: its sealed copy does (Replicator), or it was dropped. */
interface Owed {
  records: number;
  oldestAtMs: number;
}

const keyOf = (subject: string, baseOffset: number): string => `${baseOffset}@${subject}`;

/**
 * One log's stream to the cold tier. Acknowledged commits queue (never delaying an ack); one write is in flight at a
 * time and takes everything queued, so commits coalesce while the store is slow, and per subject the rows go in
 * offset order. A failed write goes back to the queue's head and is retried with capped backoff; an outage is
 * reported once. Past maxQueuedBytes the queue is dropped: those records count as owed by their segments, which are
 * sealed (onDrop) so the replication job copies them as before acks were streamed, and stop counting once
 * copied (replicated) or deleted. A sealed segment being read for its copy is claimed: its queued records are left
 * to the copy and the write in flight is awaited, so no streamed row lands after the copy's segment row.
 */
export class ReplicaStream {
  private queue: Queued[] = [];
  private queuedRecords = 0;
  private queuedBytes = 0;
  private inflight: Queued | undefined;
  private writing: Promise<void> | undefined;
  private readonly owed = new Map<string, Owed>();
  private owedRecords = 0;
  /** Segments this stream wrote from their first record on, in order: the last offset the store acknowledged. */
  private readonly written = new Map<string, number>();
  /** Told when the write in flight settles. */
  private writeSettled: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private delayMs: number;
  private outage = false;
  private closed = false;
  private readonly now: () => number;
  private readonly retry: { readonly firstMs: number; readonly maxMs: number };

  constructor(
    private readonly settings: ReplicaStreamSettings,
    /** Seals the log's active segments, so the records a drop left behind are copied soon. */
    private readonly onDrop: () => void,
  ) {
    this.now = settings.now ?? Date.now;
    this.retry = settings.retry ?? DEFAULT_RETRY;
    this.delayMs = this.retry.firstMs;
    settings.board?.add(this);
  }

  /** A group commit's appends were acknowledged: queue them for the cold tier. */
  committed(appends: readonly StreamedAppend[]): void {
    if (this.closed || appends.length === 0) return;
    const atMs = this.now();
    const kept = this.owed.size === 0 ? appends : this.keepUnowed(appends, atMs);
    if (kept.length === 0) return;
    this.queue.push({ appends: kept, atMs });
    this.queuedRecords += kept.length;
    for (const a of kept) this.queuedBytes += a.record.body.length + RECORD_OVERHEAD_BYTES;
    if (this.queuedBytes > this.settings.maxQueuedBytes) this.drop();
    else this.pump();
  }

  /** The lag: queued, in flight, and owed by segments the sealed-segment copy is to bring. */
  lag(): ReplicationLag {
    let oldest = this.inflight?.atMs ?? this.queue[0]?.atMs;
    for (const o of this.owed.values())
      if (o.records > 0 && (oldest === undefined || o.oldestAtMs < oldest)) oldest = o.oldestAtMs;
    const records = this.queuedRecords + (this.inflight?.appends.length ?? 0) + this.owedRecords;
    return { records, oldestAtMs: records === 0 ? undefined : oldest };
  }

  /** Why an append is refused now (BROKER_MAX_REPLICATION_LAG), if it is. */
  refusal(): Error | undefined {
    const max = this.settings.maxLagMs;
    if (max <= 0) return undefined;
    const oldest = this.lag().oldestAtMs;
    if (oldest === undefined) return undefined;
    const lagMs = this.now() - oldest;
    if (lagMs <= max) return undefined;
    return new UnavailableError(
      `replication to the cold tier is ${(lagMs / 1000).toFixed(1)} s behind, above BROKER_MAX_REPLICATION_LAG ` +
        `(${max / 1000} s): publishes are refused until it catches up`,
      { metadata: { lagMs: String(Math.round(lagMs)), maxLagMs: String(max) } },
    );
  }

  /** Segments the log holds that were never streamed (active at open, sealed and not copied): owed until copied. */
  owe(segments: readonly SegmentInfo[]): void {
    for (const s of segments) {
      if (s.replicated || s.count === 0) continue;
      this.addOwed(keyOf(s.subject, s.baseOffset), s.count, s.firstPublishMs);
    }
  }

  /**
   * A sealed segment is about to be read for its copy: its queued records are left to the copy (owed until it is
   * marked replicated) and a write in flight holding some of them is awaited.
   */
  async claim(ref: SegmentRef): Promise<void> {
    const key = keyOf(ref.subject, ref.baseOffset);
    const mine = (a: StreamedAppend): boolean => a.segmentBase === ref.baseOffset && a.record.subject === ref.subject;
    const inflight = this.inflight?.appends.some(mine) === true;
    let claimed = 0;
    let oldestAtMs = Infinity;
    for (const q of this.queue) {
      const before = q.appends.length;
      if (!q.appends.some(mine)) continue;
      q.appends = q.appends.filter((a) => !mine(a));
      claimed += before - q.appends.length;
      oldestAtMs = Math.min(oldestAtMs, q.atMs);
    }
    if (claimed > 0 || inflight) {
      this.queue = this.queue.filter((q) => q.appends.length > 0);
      this.recount();
      this.addOwed(key, claimed, oldestAtMs);
    }
    if (inflight) await this.writing;
  }

  /**
   * Whether this stream has written every record of a sealed segment to the cold tier (from its first record on, in
   * order, to its last, none let go of), so its copy can be skipped: waits first, within waitMs, for the stream's
   * records of it that are still queued or in flight.
   */
  async wroteAll(segment: SegmentInfo, waitMs = 500): Promise<boolean> {
    const key = keyOf(segment.subject, segment.baseOffset);
    const deadline = Date.now() + waitMs;
    while (!this.owed.has(key) && this.holds(segment) && !this.closed && Date.now() < deadline)
      await this.nextWrite(deadline - Date.now());
    return !this.owed.has(key) && !this.holds(segment) && this.written.get(key) === segment.lastOffset;
  }

  /** The segment's sealed copy is in the cold tier (markReplicated), or the segment is gone: it owes nothing. */
  settled(ref: SegmentRef): void {
    const key = keyOf(ref.subject, ref.baseOffset);
    this.written.delete(key);
    const o = this.owed.get(key);
    if (o === undefined) return;
    this.owedRecords -= o.records;
    this.owed.delete(key);
  }

  /**
   * Stops streaming: the write in flight is awaited and what is queued gets one more write (unless the store is in
   * an outage), within timeoutMs; what is left reaches the cold tier with its sealed segment.
   */
  async close(timeoutMs = 2_000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.settings.board?.delete(this);
    clearTimeout(this.timer);
    this.timer = undefined;
    let timeout: NodeJS.Timeout | undefined;
    const flush = async (): Promise<void> => {
      await this.writing;
      if (!this.outage && this.queue.length > 0) await this.write();
    };
    await Promise.race([flush(), new Promise<void>((resolve) => (timeout = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timeout);
  }

  // ---- writing -------------------------------------------------------------------------------------------

  /** Schedules the next write, a linger after the first commit it is to take. */
  private pump(): void {
    if (this.writing !== undefined || this.timer !== undefined || this.closed || this.queue.length === 0) return;
    this.wait(this.settings.lingerMs ?? DEFAULT_LINGER_MS);
  }

  private wait(ms: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.writing !== undefined || this.closed || this.queue.length === 0) return;
      this.writing = this.write().finally(() => {
        this.writing = undefined;
        this.pump();
      });
    }, ms);
    this.timer.unref();
  }

  /** Writes everything queued as one commit; a failure puts it back at the queue's head and schedules a retry. */
  private async write(): Promise<void> {
    const taken = this.queue;
    const first = taken[0];
    if (first === undefined) return;
    this.queue = [];
    this.queuedRecords = 0;
    this.queuedBytes = 0;
    const batch: Queued = {
      appends: taken.length === 1 ? first.appends : taken.flatMap((q) => q.appends),
      atMs: first.atMs,
    };
    this.inflight = batch;
    const segments = commitSegments(batch.appends);
    try {
      await this.settings.store.writeCommit(segments, this.settings.retentionMs);
      this.inflight = undefined;
      this.wrote(segments);
      this.delayMs = this.retry.firstMs;
      if (this.outage) {
        this.outage = false;
        this.settings.onOutage?.(undefined);
      }
    } catch (err) {
      this.inflight = undefined;
      this.failed(batch, err instanceof Error ? err : new Error(String(err)));
    } finally {
      const settled = this.writeSettled;
      this.writeSettled = [];
      for (const done of settled) done();
    }
  }

  /** A write's segments are in the cold tier: each continues its run of written offsets, or is no longer whole. */
  private wrote(segments: readonly CommitSegment[]): void {
    for (const s of segments) {
      const key = keyOf(s.subject, s.baseOffset);
      const first = s.records[0];
      const last = s.records.at(-1);
      if (first === undefined || last === undefined) continue;
      const before = this.written.get(key);
      if (before === undefined && this.written.size >= MAX_TRACKED_SEGMENTS) continue;
      const continues = before === undefined ? first.offset === s.baseOffset : first.offset === before + 1;
      if (continues) this.written.set(key, last.offset);
      else this.written.delete(key);
    }
  }

  /** Whether records of the segment are queued or in flight. */
  private holds(ref: SegmentRef): boolean {
    const mine = (a: StreamedAppend): boolean => a.segmentBase === ref.baseOffset && a.record.subject === ref.subject;
    return this.inflight?.appends.some(mine) === true || this.queue.some((q) => q.appends.some(mine));
  }

  /** Resolves when the write in flight (or the next one) settles, or after ms. */
  private nextWrite(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, ms));
      this.writeSettled.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private failed(batch: Queued, err: Error): void {
    if (!this.outage) {
      this.outage = true;
      this.settings.onOutage?.(err);
    }
    if (this.closed) return;
    // Claimed meanwhile: those records are the copy's now.
    const kept = this.owed.size === 0 ? batch.appends : this.keepUnowed(batch.appends, batch.atMs);
    if (kept.length > 0) {
      this.queue.unshift({ appends: kept, atMs: batch.atMs });
      this.recount();
      if (this.queuedBytes > this.settings.maxQueuedBytes) return this.drop();
    }
    this.wait(this.delayMs);
    this.delayMs = Math.min(this.delayMs * 2, this.retry.maxMs);
  }

  // ---- bookkeeping ---------------------------------------------------------------------------------------

  /** Over the byte bound: the queue's records become owed by their segments, which are sealed to be copied. */
  private drop(): void {
    for (const q of this.queue)
      for (const a of q.appends) this.addOwed(keyOf(a.record.subject, a.segmentBase), 1, q.atMs);
    this.queue = [];
    this.queuedRecords = 0;
    this.queuedBytes = 0;
    this.onDrop();
  }

  /** The appends of segments not owed (to a copy); those of owed segments are counted there. */
  private keepUnowed(appends: readonly StreamedAppend[], atMs: number): StreamedAppend[] {
    const kept: StreamedAppend[] = [];
    for (const a of appends) {
      const o = this.owed.get(keyOf(a.record.subject, a.segmentBase));
      if (o === undefined) kept.push(a);
      else {
        o.records += 1;
        this.owedRecords += 1;
        o.oldestAtMs = Math.min(o.oldestAtMs, atMs);
      }
    }
    return kept;
  }

  private addOwed(key: string, records: number, atMs: number): void {
    const o = this.owed.get(key);
    if (o === undefined) this.owed.set(key, { records, oldestAtMs: atMs });
    else {
      o.records += records;
      o.oldestAtMs = Math.min(o.oldestAtMs, atMs);
    }
    this.owedRecords += records;
  }

  private recount(): void {
    this.queuedRecords = 0;
    this.queuedBytes = 0;
    for (const q of this.queue) {
      this.queuedRecords += q.appends.length;
      for (const a of q.appends) this.queuedBytes += a.record.body.length + RECORD_OVERHEAD_BYTES;
    }
  }
}
