import { FencedError, UnavailableError, type LogObserver, type LogRecord, type SegmentInfo } from '../core/index.js';
import type { TraceLink, Tracing } from '../core/index.js';
import { encodeHead, encodeSegment, segmentInfo, type SegmentState } from './codec.js';
import { endCommitSpan, startCommitSpan, withinCommit } from './commit-span.js';
import type { DueReservations, IdReserver } from './id-reserver.js';
import { headKey, offsetKey } from './keys.js';
import { notify } from './notify.js';
import { writeReplica, type ReplicaSettings } from './replica-commit.js';
import type { Db } from './storage.js';
import type { SubjectState } from './subject-state.js';
import type { TailCacheBudget } from './tail-cache-budget.js';
import { refuseGated, type WriteGate } from './write-gate.js';

/** A metadata write that is not an append (segment administration). */
export type Op = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };
/** LevelDB's chained batch: each op is copied into the native write batch as it is added. */
export type Batch = ReturnType<Db['batch']>;

interface PendingAppend {
  state: SubjectState;
  record: LogRecord;
  /** The base offset of the segment the record went into (a replicated commit's rows are keyed by it). */
  segmentBase: number;
  /** performance.now() at the call, when there is an observer to tell the latency to. */
  startedAt: number;
  /** The traced call's context, which the batch's span links (tracing on and the call sampled). */
  link: TraceLink | undefined;
  resolve: (offset: number) => void;
  reject: (err: unknown) => void;
}

interface PendingControl {
  states: SubjectState[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

export interface GroupCommitOptions {
  /** Sync every batch before acknowledging its appends (`fsync: 'batch'`). */
  readonly sync: boolean;
  readonly observer: LogObserver | undefined;
  /** The tail caches that acknowledged records of subjects with cursors go into. */
  readonly tailCache: TailCacheBudget;
  /** After every written batch, with its appends once acknowledged (the subject cache evicts, a stream queues). */
  readonly afterWrite: (appends: ReadonlyArray<{ readonly record: LogRecord; readonly segmentBase: number }>) => void;
  /** Told once per failed write, after its appends were rejected: the owner starts recovering (write-recovery.ts). */
  readonly onFailure?: (err: Error) => void;
  /**
   * Writes the heads a batch changes outside LevelDB (the high-water side file), in parallel with the batch and
   * before its appends are acknowledged, so a torn LevelDB WAL cannot make an acknowledged id look never assigned.
   */
  readonly marks?: (heads: ReadonlyArray<readonly [string, number]>, sync: boolean) => Promise<void>;
  /**
   * Raises the id reservations in the shared store (id-reserver.ts) of the subjects whose head the batch takes
   * above them, in parallel with the batch and before its appends are acknowledged; a failed write fails the batch.
   */
  readonly reserver?: IdReserver | undefined;
  /**
   * BROKER_ACKS=replicated: the batch's records are written to the cold tier in parallel with the batch and before
   * its appends are acknowledged; a failed write fails the batch (replica-commit.ts).
   */
  readonly replica?: ReplicaSettings | undefined;
  /** Spans of the batches that carry traced appends; undefined = tracing off. @defaultValue off */
  readonly tracing?: Tracing | undefined;
  readonly writeGate?: WriteGate | undefined;
}

/**
 * Group commit: appends to any subjects and metadata writes go straight into one LevelDB chained batch; while a
 * batch is being written the next one accumulates, and the first one to wait is written on the next event-loop
 * turn. Every append resolves only once the batch holding it is written. Heads and segment metadata are serialized
 * into the batch at write time, so they describe exactly the records written. A failed write fails the log closed:
 * that batch and everything queued reject with UnavailableError, and every later write is refused.
 */
export class GroupCommit {
  private appends: PendingAppend[] = [];
  private controls: PendingControl[] = [];
  /** The batch the next group commit writes; appends and metadata ops go straight into it. */
  private batch: Batch | undefined;
  private batchRecords = 0;
  private batchBytes = 0;
  private readonly dirtySegments = new Map<SegmentState, SubjectState>();
  private readonly dirtyHeads = new Set<SubjectState>();
  private sealedInBatch: SegmentInfo[] = [];
  private writing = false;
  private scheduled = false;
  private failure: Error | undefined;
  private closing = false;
  private closed = false;
  /** Appends accepted but not in a batch yet (their subject's state is loading): close() waits for them. */
  private admitted = 0;
  private idle: Array<() => void> = [];
  private readonly sealListeners = new Set<(segment: SegmentInfo) => void>();

  constructor(
    private readonly db: Db,
    private readonly options: GroupCommitOptions,
  ) {}

  // ---- accepting writes ----------------------------------------------------------------------------------

  /** Why a new write is refused (a failed write, or closing), if it is. */
  refusal(): Error | undefined {
    if (this.failure instanceof FencedError) return this.failure; // NOT_OWNER: its batch was written nowhere
    if (this.failure !== undefined)
      return new UnavailableError(`the log failed a write and refuses more: ${this.failure.message}`, {
        cause: this.failure,
      });
    if (this.closing) return new UnavailableError('the log is closing');
    return undefined;
  }

  /** A batch write failed: nothing more is written. */
  get failed(): boolean {
    return this.failure !== undefined;
  }

  /** An append accepted before it can join a batch (its subject is loading): close() waits for it. */
  admit(): void {
    this.admitted += 1;
  }

  /** An admitted append joined a batch, or failed before it could (close() then looks again). */
  settleAdmitted(joined: boolean): void {
    this.admitted -= 1;
    if (!joined) this.notifyIdle();
  }

  /** Whether the state's head is still to be written: it must stay in memory. */
  isDirty(state: SubjectState): boolean {
    return this.dirtyHeads.has(state);
  }

  // ---- building the batch --------------------------------------------------------------------------------

  /** The batch being built, for ops that ride along with the appends (segment opening and sealing). */
  pending(): Batch {
    if (this.batch === undefined) this.batch = this.db.batch();
    return this.batch;
  }

  /**
   * Puts an append's record into the batch, to be written with its segment's metadata and its subject's head;
   * resolves with its offset once the batch is written. The hot path: no allocation beyond the promise and its entry.
   */
  add(state: SubjectState, segment: SegmentState, key: Buffer, value: Buffer, record: LogRecord): Promise<number> {
    this.dirtySegments.set(segment, state);
    this.dirtyHeads.add(state);
    state.inflight += 1;
    this.pending().put(key, value);
    this.batchRecords += 1;
    this.batchBytes += record.body.length;
    const startedAt = this.options.observer === undefined ? 0 : performance.now();
    const link = this.options.tracing?.capture();
    return new Promise<number>((resolve, reject) => {
      this.appends.push({ state, record, segmentBase: segment.baseOffset, startedAt, link, resolve, reject });
      this.schedule();
    });
  }

  /** A segment was sealed in the batch: its metadata is written with it, and the listeners hear of it after. */
  sealed(state: SubjectState, segment: SegmentState): void {
    this.dirtySegments.set(segment, state);
    this.sealedInBatch.push(segmentInfo(state.subject, segment));
  }

  /** Queues metadata ops (and states that must stay in memory until written) into the next batch. */
  control(ops: readonly Op[], states: SubjectState[]): Promise<void> {
    // Unlike appends, metadata writes are still taken while closing: close() drains them before the database shuts.
    if (this.failure !== undefined || this.closed)
      return Promise.reject(this.refusal() ?? new UnavailableError('the log is closed'));
    for (const s of states) s.inflight += 1;
    const batch = this.pending();
    for (const op of ops) {
      if (op.type === 'put') batch.put(op.key, op.value);
      else batch.del(op.key);
    }
    return new Promise<void>((resolve, reject) => {
      this.controls.push({ states, resolve, reject });
      this.schedule();
    });
  }

  onSegmentSealed(listener: (segment: SegmentInfo) => void): () => void {
    this.sealListeners.add(listener);
    return () => this.sealListeners.delete(listener);
  }

  // ---- writing -------------------------------------------------------------------------------------------

  private schedule(): void {
    if (this.writing || this.scheduled) return;
    this.scheduled = true;
    // One event-loop turn of appends shares a batch; while a batch is written the next one grows.
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.writing) return;
    if (
      this.batch === undefined &&
      this.appends.length === 0 &&
      this.controls.length === 0 &&
      this.dirtySegments.size === 0
    ) {
      this.notifyIdle();
      return;
    }
    const gated = refuseGated(this.options.writeGate, this.appends);
    if (gated !== undefined) return this.failClosed(gated, (this.appends = []), []);
    this.writing = true;
    const appends = this.appends;
    const controls = this.controls;
    const sealed = this.sealedInBatch;
    const records = this.batchRecords;
    const bytes = this.batchBytes;
    const heads = this.options.marks === undefined ? undefined : this.changedHeads();
    const reserving = this.options.reserver?.due(this.dirtyHeads, this.pending());
    const batch = this.takeBatch();
    const sync = this.options.sync;
    const started = performance.now();
    const span = startCommitSpan(this.options.tracing, appends, records, bytes);
    try {
      await withinCommit(this.options.tracing, span, () => this.write(batch, sync, heads, reserving, appends));
    } catch (err) {
      endCommitSpan(span, (performance.now() - started) / 1000, sync, err);
      this.retractMarks(appends, sync);
      this.failClosed(err, appends, controls);
      return;
    }
    const done = performance.now();
    endCommitSpan(span, (done - started) / 1000, sync);
    notify(() => this.options.observer?.batchWritten(records, bytes, (done - started) / 1000, sync));
    this.acknowledge(appends, done);
    for (const c of controls) {
      for (const s of c.states) s.inflight -= 1;
      c.resolve();
    }
    for (const info of sealed) for (const listener of this.sealListeners) notify(() => listener(info));
    this.options.afterWrite(appends);
    this.writing = false;
    if (this.batch !== undefined || this.appends.length > 0 || this.controls.length > 0) {
      void this.flush();
    } else {
      this.notifyIdle();
    }
  }

  /**
   * Writes the batch, and in parallel the heads to the side file, the reservations due to the shared store and (acks
   * replicated) the records to the cold tier.
   */
  private async write(
    batch: Batch,
    sync: boolean,
    heads: ReadonlyArray<readonly [string, number]> | undefined,
    reserving: DueReservations | undefined,
    appends: readonly PendingAppend[],
  ): Promise<void> {
    const reserver = this.options.reserver;
    const replica = this.options.replica;
    if ((reserving === undefined || reserver === undefined) && replica === undefined) {
      if (heads === undefined || heads.length === 0) await batch.write({ sync });
      else await Promise.all([batch.write({ sync }), this.options.marks?.(heads, sync)]);
      return;
    }
    if (reserving !== undefined) await reserver?.writeFirst(reserving, batch); // before anything (id-reserver.ts)
    const writes: Array<Promise<void> | undefined> = [batch.write({ sync })];
    if (heads !== undefined && heads.length > 0) writes.push(this.options.marks?.(heads, sync));
    writes.push(writeReplica(replica, appends));
    // allSettled: a failure is raised only once all are done, so no write is left running behind it.
    const settled = await Promise.allSettled(writes);
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    if (reserving !== undefined) reserver?.written(reserving);
  }

  /**
   * The failed batch's heads may be in the side file already, above anything acknowledged: put the acknowledged
   * heads back, so the next open does not call ids that were never acknowledged lost. Should that write fail too,
   * the marks stay high and those ids are skipped, never reused: safe, so its failure is not raised again.
   */
  private retractMarks(appends: readonly PendingAppend[], sync: boolean): void {
    const marks = this.options.marks;
    if (marks === undefined || appends.length === 0) return;
    const heads = new Map<string, number>();
    for (const a of appends) heads.set(a.state.subject, a.state.lastOffset);
    marks([...heads], sync).catch(() => undefined);
  }

  /** The heads the next batch writes, as (subject, last offset). */
  private changedHeads(): Array<readonly [string, number]> {
    const heads: Array<readonly [string, number]> = [];
    for (const state of this.dirtyHeads) heads.push([state.subject, state.nextOffset - 1]);
    return heads;
  }

  /** Takes the batch to write and starts the next; metadata goes in now, describing every append assigned so far. */
  private takeBatch(): Batch {
    const batch = this.pending();
    this.batch = undefined;
    this.appends = [];
    this.controls = [];
    this.sealedInBatch = [];
    this.batchRecords = 0;
    this.batchBytes = 0;
    for (const [segment, state] of this.dirtySegments)
      batch.put(offsetKey(state.segmentPrefix, segment.baseOffset), encodeSegment(segment));
    for (const state of this.dirtyHeads) batch.put(headKey(state.subject), encodeHead(state.nextOffset - 1));
    this.dirtySegments.clear();
    this.dirtyHeads.clear();
    return batch;
  }

  /** The batch is written: its records become visible (offsets, tail caches, waiting cursors), then resolve. */
  private acknowledge(appends: readonly PendingAppend[], done: number): void {
    const touched = new Set<SubjectState>();
    for (const a of appends) {
      const state = a.state;
      state.acknowledged(a.record.offset);
      if (state.cursors > 0) this.options.tailCache.add(state, a.record);
      touched.add(state);
    }
    for (const state of touched) state.wakeAll();
    const observer = this.options.observer;
    if (observer !== undefined)
      notify(() => {
        for (const a of appends) observer.appendAcknowledged((done - a.startedAt) / 1000);
      });
    for (const a of appends) a.resolve(a.record.offset);
  }

  /** Offsets already handed out cannot be taken back without holes: refuse everything from now on. */
  private failClosed(err: unknown, appends: readonly PendingAppend[], controls: readonly PendingControl[]): void {
    const failure = err instanceof Error ? err : new Error(String(err));
    this.failure = failure;
    this.writing = false;
    const refused = this.refusal();
    for (const a of appends) a.reject(refused);
    for (const c of controls) c.reject(refused);
    const queuedAppends = this.appends;
    const queuedControls = this.controls;
    this.appends = [];
    this.controls = [];
    this.batch = undefined;
    for (const a of queuedAppends) a.reject(refused);
    for (const c of queuedControls) c.reject(refused);
    this.notifyIdle();
    notify(() => this.options.onFailure?.(failure));
  }

  /** Accepts writes again once the owner rebuilt the states from disk: the batch described dropped states, so empty. */
  resume(): void {
    if (this.writing) return;
    this.failure = undefined;
    this.batch = undefined;
    this.batchRecords = 0;
    this.batchBytes = 0;
    this.sealedInBatch = [];
    this.dirtySegments.clear();
    this.dirtyHeads.clear();
  }

  // ---- closing -------------------------------------------------------------------------------------------

  /**
   * Refuses new appends and writes everything accepted, then refuses metadata writes too. Resolves false when the
   * log was already closing (the first call closes it).
   */
  async close(): Promise<boolean> {
    if (this.closing) return false;
    this.closing = true;
    while (
      this.writing ||
      this.scheduled ||
      this.admitted > 0 ||
      this.batch !== undefined ||
      this.appends.length > 0 ||
      this.controls.length > 0
    ) {
      await new Promise<void>((resolve) => {
        this.idle.push(resolve);
        this.schedule();
      });
    }
    this.closed = true;
    return true;
  }

  private notifyIdle(): void {
    const idle = this.idle;
    this.idle = [];
    for (const done of idle) done();
  }
}
