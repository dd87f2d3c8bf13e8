import pLimit from 'p-limit';
import {
  InvalidArgumentError,
  InvalidIdError,
  UnavailableError,
  type AppendInput,
  type Log,
  type LogObserver,
  type LogRecord,
  type LookupResult,
  type ReadLimits,
  type Removed,
  type SegmentRef,
  type SegmentInfo,
  type SubjectInfo,
  type TailCursor,
} from '../core/index.js';
import {
  RECORD_HEADER_BYTES,
  decodeRecordValue,
  encodeHead,
  encodeRecordValue,
  encodeSegment,
  segmentInfo,
  type SegmentState,
} from './codec.js';
import {
  Family,
  activeKey,
  activeKeyAfter,
  familyBounds,
  headKey,
  offsetKey,
  parseActiveKey,
  parseHeadKey,
  prefixEnd,
  subjectPrefix,
} from './keys.js';
import type { LogOptions } from './options.js';
import {
  createDb,
  finishInterruptedDeletes,
  firstStoredOffset,
  readStoredRecords,
  readSubjectState,
  scanSegments,
  type Db,
} from './storage.js';
import type { SubjectState } from './subject-state.js';
import { LogTailCursor } from './tail-cursor.js';

/** Body bytes per disk read of a tail cursor: with STORED_BATCH records, what one lagging subscriber holds at most. */
const STORED_BATCH_BYTES = 256 * 1024;

type Op = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };
/** LevelDB's chained batch: each op is copied into the native write batch as it is added. */
type Batch = ReturnType<Db['batch']>;

interface PendingAppend {
  state: SubjectState;
  record: LogRecord;
  /** performance.now() at the call, when there is an observer to tell the latency to. */
  startedAt: number;
  resolve: (offset: number) => void;
  reject: (err: unknown) => void;
}

interface Loading {
  promise: Promise<SubjectState>;
  /** acquire() calls waiting for this load: the state is pinned for them as soon as it loads. */
  pins: number;
  /** Appends waiting for this load, in call order. */
  queued: Array<{
    inputs: readonly AppendInput[];
    resolve: (offsets: number[]) => void;
    reject: (err: unknown) => void;
  }>;
}

interface PendingControl {
  states: SubjectState[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

const EMPTY = Buffer.alloc(0);

/**
 * The segmented log on one LevelDB database. Appends from any subject are group-committed: while one batch is
 * being written the next accumulates, and every append resolves only once the batch holding it is written (and
 * synced when fsync is 'batch'). Offsets are assigned in memory at append time, so they follow call order; the
 * subject head and segment metadata are written in the same atomic batch as the records they describe.
 * If a batch write fails the log fails closed (every later write is UNAVAILABLE): the in-memory offsets can no
 * longer be trusted, and reopening rebuilds them from disk, where nothing unacknowledged claims an offset.
 */
export class LevelDbLog implements Log {
  private readonly states = new Map<string, SubjectState>();
  private readonly loading = new Map<string, Loading>();
  private appends: PendingAppend[] = [];
  private controls: PendingControl[] = [];
  /** The batch the next group commit writes; appends and metadata ops go straight into it. */
  private batch: Batch | undefined;
  private batchRecords = 0;
  private batchBytes = 0;
  private dirtySegments = new Map<SegmentState, SubjectState>();
  private dirtyHeads = new Set<SubjectState>();
  private sealedInBatch: SegmentInfo[] = [];
  private writing = false;
  private scheduled = false;
  private failure: Error | undefined;
  private closing = false;
  private closed = false;
  /** Appends accepted but still waiting for their subject's state to load. */
  private admitted = 0;
  private idle: Array<() => void> = [];
  private readonly cursors = new Set<LogTailCursor>();
  /**
   * Disk reads of lagging tail cursors, at most two at a time. LevelDB work runs on libuv's four threads, and a
   * thousand lagging subscribers would otherwise queue a thousand reads there, ahead of the next group commit: the
   * publishers would wait for the slow subscribers. Queued here instead, the reads leave threads for the writes.
   */
  private readonly cursorReads = pLimit(2);
  private readonly sealListeners = new Set<(segment: SegmentInfo) => void>();
  private cacheBytes = 0;
  private readonly now: () => number;
  private readonly observer: LogObserver | undefined;

  private constructor(
    private readonly db: Db,
    private readonly options: LogOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.observer = options.observer;
  }

  /** Opens the log on options.dataDir, or on `db` (tests inject one that fails writes). */
  static async open(options: LogOptions, db: Db = createDb(options.dataDir)): Promise<LevelDbLog> {
    await db.open();
    const log = new LevelDbLog(db, options);
    await finishInterruptedDeletes(db);
    return log;
  }

  // ---- appends -------------------------------------------------------------------------------------------

  append(input: AppendInput): Promise<number> {
    const refused = this.refusal();
    if (refused !== undefined) return Promise.reject(refused);
    const cached = this.cachedState(input.subject);
    if (cached !== undefined) return this.appendTo(cached, input);
    return new Promise<number>((resolve, reject) => {
      this.queueForLoad(input.subject, [input], (offsets) => resolve(offsets[0]!), reject);
    });
  }

  appendMany(inputs: readonly AppendInput[]): Promise<number[]> {
    if (inputs.length === 0) return Promise.resolve([]);
    const refused = this.refusal();
    if (refused !== undefined) return Promise.reject(refused);
    const subject = inputs[0]!.subject;
    const other = inputs.find((input) => input.subject !== subject);
    if (other !== undefined) {
      return Promise.reject(
        new InvalidArgumentError(
          'subject',
          `appendMany appends to one subject: got "${subject}" and "${other.subject}"`,
        ),
      );
    }
    const cached = this.cachedState(subject);
    // Synchronous from here: the offsets are consecutive and land in one batch.
    if (cached !== undefined) return Promise.all(inputs.map((input) => this.appendTo(cached, input)));
    return new Promise<number[]>((resolve, reject) => this.queueForLoad(subject, inputs, resolve, reject));
  }

  /**
   * Appends to a subject whose state is not in memory wait for it to load, in a queue that is drained in call
   * order as soon as it has loaded (before any later call can see the state), so offsets follow call order.
   * Accepted now, written later: close() waits for them.
   */
  private queueForLoad(
    subject: string,
    inputs: readonly AppendInput[],
    resolve: (offsets: number[]) => void,
    reject: (err: unknown) => void,
  ): void {
    this.admitted += 1;
    this.startLoad(subject).queued.push({ inputs, resolve, reject });
  }

  private appendTo(state: SubjectState, input: AppendInput): Promise<number> {
    if (this.failure !== undefined) return Promise.reject(this.refusal());
    const publishedAtMs = this.now();
    const offset = state.nextOffset;
    const segment = this.segmentFor(state, offset, input.body.length, publishedAtMs);
    state.nextOffset = offset + 1;
    segment.lastOffset = offset;
    segment.count += 1;
    segment.bytes += input.body.length;
    segment.lastPublishMs = publishedAtMs;
    if (input.expirationSeconds > 0) {
      segment.maxExplicitExpiryMs = Math.max(
        segment.maxExplicitExpiryMs,
        publishedAtMs + input.expirationSeconds * 1000,
      );
    } else {
      segment.lastRetentionPublishMs = publishedAtMs;
    }
    this.dirtySegments.set(segment, state);
    this.dirtyHeads.add(state);
    state.inflight += 1;
    const value = encodeRecordValue(publishedAtMs, input.expirationSeconds, input.body);
    this.pending().put(offsetKey(state.recordPrefix, offset), value);
    this.batchRecords += 1;
    this.batchBytes += input.body.length;
    const record: LogRecord = {
      subject: state.subject,
      offset,
      publishedAtMs,
      expirationSeconds: input.expirationSeconds,
      body: value.subarray(RECORD_HEADER_BYTES),
    };
    const startedAt = this.observer === undefined ? 0 : performance.now();
    return new Promise<number>((resolve, reject) => {
      this.appends.push({ state, record, startedAt, resolve, reject });
      this.schedule();
    });
  }

  private pending(): Batch {
    if (this.batch === undefined) this.batch = this.db.batch();
    return this.batch;
  }

  private addOps(ops: readonly Op[]): void {
    const batch = this.pending();
    for (const op of ops) {
      if (op.type === 'put') batch.put(op.key, op.value);
      else batch.del(op.key);
    }
  }

  /** The segment the record at `offset` goes into, rolling to a new one by record count, bytes or age. */
  private segmentFor(state: SubjectState, offset: number, size: number, nowMs: number): SegmentState {
    const o = this.options;
    let segment = state.active;
    if (
      segment !== undefined &&
      (segment.lastOffset - segment.baseOffset + 1 >= o.segmentMaxRecords ||
        (segment.bytes > 0 && segment.bytes + size > o.segmentMaxBytes) ||
        nowMs - segment.firstPublishMs >= o.segmentMaxAgeMs)
    ) {
      this.seal(state, segment);
      segment = undefined;
    }
    if (segment === undefined) {
      segment = {
        baseOffset: offset,
        lastOffset: offset - 1,
        count: 0,
        bytes: 0,
        firstPublishMs: nowMs,
        lastPublishMs: nowMs,
        maxExplicitExpiryMs: 0,
        lastRetentionPublishMs: 0,
        sealed: false,
        replicated: false,
        deleting: false,
      };
      state.segments.push(segment);
      this.pending().put(activeKey(nowMs, state.subject, offset), EMPTY);
    }
    return segment;
  }

  private seal(state: SubjectState, segment: SegmentState): void {
    segment.sealed = true;
    this.dirtySegments.set(segment, state);
    this.pending()
      .del(activeKey(segment.firstPublishMs, state.subject, segment.baseOffset))
      .put(offsetKey(subjectPrefix(Family.unreplicated, state.subject), segment.baseOffset), EMPTY);
    this.sealedInBatch.push(segmentInfo(state.subject, segment));
  }

  private refusal(): Error | undefined {
    if (this.failure !== undefined)
      return new UnavailableError(`the log failed a write and refuses more: ${this.failure.message}`, {
        cause: this.failure,
      });
    if (this.closing) return new UnavailableError('the log is closing');
    return undefined;
  }

  private schedule(): void {
    if (this.writing || this.scheduled) return;
    this.scheduled = true;
    // One event-loop turn of appends shares a batch; while a batch is written the next one grows.
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  /** Queues metadata ops (and states that must stay in memory) into the next batch. */
  private writeControl(ops: Op[], states: SubjectState[]): Promise<void> {
    // Unlike appends, metadata writes are still taken while closing: close() drains them before the database shuts.
    if (this.failure !== undefined || this.closed)
      return Promise.reject(this.refusal() ?? new UnavailableError('the log is closed'));
    for (const s of states) s.inflight += 1;
    this.addOps(ops);
    return new Promise<void>((resolve, reject) => {
      this.controls.push({ states, resolve, reject });
      this.schedule();
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
    this.writing = true;
    const appends = this.appends;
    const controls = this.controls;
    const sealed = this.sealedInBatch;
    const records = this.batchRecords;
    const bytes = this.batchBytes;
    const batch = this.pending();
    this.batch = undefined;
    this.appends = [];
    this.controls = [];
    this.sealedInBatch = [];
    this.batchRecords = 0;
    this.batchBytes = 0;
    // Metadata is serialized now, so it describes exactly the appends assigned so far: those in this batch and before.
    for (const [segment, state] of this.dirtySegments)
      batch.put(offsetKey(state.segmentPrefix, segment.baseOffset), encodeSegment(segment));
    for (const state of this.dirtyHeads) batch.put(headKey(state.subject), encodeHead(state.nextOffset - 1));
    this.dirtySegments.clear();
    this.dirtyHeads.clear();

    const sync = this.options.fsync === 'batch';
    const started = performance.now();
    try {
      await batch.write({ sync });
    } catch (err) {
      this.failure = err instanceof Error ? err : new Error(String(err));
      this.writing = false;
      const refused = this.refusal();
      for (const a of appends) a.reject(refused);
      for (const c of controls) c.reject(refused);
      this.rejectQueued(refused);
      this.notifyIdle();
      return;
    }
    const done = performance.now();
    this.notify(() => this.observer?.batchWritten(records, bytes, (done - started) / 1000, sync));

    const touched = new Set<SubjectState>();
    for (const a of appends) {
      const state = a.state;
      const offset = a.record.offset;
      state.lastOffset = offset;
      state.inflight -= 1;
      if (state.firstOffset > offset) state.firstOffset = offset;
      if (state.cursors > 0) this.cacheRecord(state, a.record);
      touched.add(state);
    }
    for (const state of touched) state.wakeAll();
    const observer = this.observer;
    if (observer !== undefined)
      this.notify(() => {
        for (const a of appends) observer.appendAcknowledged((done - a.startedAt) / 1000);
      });
    for (const a of appends) a.resolve(a.record.offset);
    for (const c of controls) {
      for (const s of c.states) s.inflight -= 1;
      c.resolve();
    }
    for (const info of sealed) for (const listener of this.sealListeners) this.notify(() => listener(info));
    this.evict();
    this.writing = false;
    if (this.batch !== undefined || this.appends.length > 0 || this.controls.length > 0) {
      void this.flush();
    } else {
      this.notifyIdle();
    }
  }

  /** Calls an observer or listener: its failure is reported as a process warning and never wedges the writer. */
  private notify(call: () => void): void {
    try {
      call();
    } catch (err) {
      process.emitWarning(err instanceof Error ? err : new Error(String(err)), { code: 'BROKER_LOG_LISTENER' });
    }
  }

  private rejectQueued(err: Error | undefined): void {
    const appends = this.appends;
    const controls = this.controls;
    this.appends = [];
    this.controls = [];
    this.batch = undefined;
    for (const a of appends) a.reject(err);
    for (const c of controls) c.reject(err);
  }

  private notifyIdle(): void {
    const idle = this.idle;
    this.idle = [];
    for (const done of idle) done();
  }

  private cacheRecord(state: SubjectState, record: LogRecord): void {
    this.cacheBytes += state.cacheAppend(record, this.options.tailCacheRecords);
    if (this.cacheBytes > this.options.tailCacheBytes) {
      // Over the shared budget: halve the cache of the subject that grew it; its cursors fall back to the disk.
      this.cacheBytes -= state.cacheTrim(Math.ceil(state.cache.length / 2));
    }
  }

  // ---- subject state -------------------------------------------------------------------------------------

  private cachedState(subject: string): SubjectState | undefined {
    const state = this.states.get(subject);
    // Second chance (CLOCK) instead of strict LRU: a flag per access, the reordering is left to evict().
    if (state !== undefined) state.recent = true;
    return state;
  }

  /** The subject's state, loading it if needed. Not pinned: for reads, which may use a state evicted meanwhile. */
  private loadState(subject: string): Promise<SubjectState> {
    const cached = this.cachedState(subject);
    if (cached !== undefined) return Promise.resolve(cached);
    return this.startLoad(subject).promise;
  }

  /**
   * The subject's state, pinned in memory until release(): for operations that change it across awaits, which
   * must not work on a state that was evicted (and reloaded by someone else) in the meantime.
   */
  private acquire(subject: string): Promise<SubjectState> {
    const cached = this.cachedState(subject);
    if (cached !== undefined) {
      cached.pins += 1;
      return Promise.resolve(cached);
    }
    const loading = this.startLoad(subject);
    loading.pins += 1;
    return loading.promise;
  }

  private release(state: SubjectState): void {
    state.pins -= 1;
  }

  private startLoad(subject: string): Loading {
    let loading = this.loading.get(subject);
    if (loading !== undefined) return loading;
    const entry: Omit<Loading, 'promise'> = { pins: 0, queued: [] };
    const promise = readSubjectState(this.db, subject).then(
      (state) => {
        this.loading.delete(subject);
        state.recent = true;
        this.states.set(subject, state);
        // Before anything else can see the state: pin it for those waiting, and assign offsets to queued appends.
        state.pins += entry.pins;
        for (const q of entry.queued) {
          this.admitted -= 1;
          Promise.all(q.inputs.map((input) => this.appendTo(state, input))).then(q.resolve, q.reject);
        }
        this.evict();
        return state;
      },
      (err: unknown) => {
        this.loading.delete(subject);
        for (const q of entry.queued) {
          this.admitted -= 1;
          q.reject(err);
        }
        this.notifyIdle();
        throw err;
      },
    );
    // Waiters that only wanted the appends may not listen; the error reaches them through their own promises.
    promise.catch(() => undefined);
    loading = Object.assign(entry, { promise });
    this.loading.set(subject, loading);
    return loading;
  }

  private evict(): void {
    const max = this.options.subjectCacheSize;
    if (this.states.size <= max) return;
    // Map order is load order; a state used since the last sweep gets a second chance at the end of the order.
    for (const [subject, state] of this.states) {
      if (this.states.size <= max) break;
      if (!state.evictable || this.dirtyHeads.has(state)) continue;
      this.states.delete(subject);
      if (state.recent) {
        state.recent = false;
        this.states.set(subject, state);
      } else {
        this.cacheBytes -= state.cacheClear();
      }
    }
  }

  // ---- reads ---------------------------------------------------------------------------------------------

  async get(subject: string, offset: number): Promise<LookupResult> {
    const state = this.cachedState(subject) ?? (await this.existingState(subject));
    if (state === undefined || offset < 1 || offset > state.lastOffset) {
      return { kind: 'never', lastOffset: state?.lastOffset ?? 0 };
    }
    const cached = state.cacheRead(offset, 1)[0];
    if (cached !== undefined) return { kind: 'record', record: cached };
    const value = await this.db.get(offsetKey(state.recordPrefix, offset));
    if (value === undefined) return { kind: 'removed', firstOffset: state.firstOffset };
    return { kind: 'record', record: decodeRecordValue(subject, offset, value) };
  }

  /** The state of a subject that exists, without creating in-memory state for unknown ones. */
  private async existingState(subject: string): Promise<SubjectState | undefined> {
    if (this.loading.has(subject)) return this.loadState(subject);
    const head = await this.db.get(headKey(subject));
    if (head === undefined) return undefined;
    return this.loadState(subject);
  }

  async readRange(subject: string, fromOffset: number, limits: ReadLimits): Promise<LogRecord[]> {
    const state = this.cachedState(subject) ?? (await this.existingState(subject));
    if (state === undefined) return [];
    return this.readStored(state, Math.max(fromOffset, 1), state.lastOffset, limits.maxRecords, limits.maxBytes);
  }

  private readonly readStored = (
    state: SubjectState,
    fromOffset: number,
    toOffset: number,
    maxRecords: number,
    maxBytes?: number,
  ): Promise<LogRecord[]> => readStoredRecords(this.db, state, fromOffset, toOffset, maxRecords, maxBytes);

  async tail(subject: string, from: number | 'live'): Promise<TailCursor> {
    const refused = this.refusal();
    if (refused !== undefined) throw refused;
    if (from !== 'live' && !Number.isSafeInteger(from))
      throw new InvalidIdError(subject, from, `from_id ${from} is not an integer`);
    const state = await this.acquire(subject);
    this.release(state);
    // close() may have begun while the state loaded: it would never end a cursor opened now.
    const closing = this.refusal();
    if (closing !== undefined) throw closing;
    let position: number;
    if (from === 'live') {
      position = state.nextOffset;
    } else {
      if (from > state.lastOffset + 1) {
        this.evict();
        throw new InvalidIdError(subject, from, `from_id is beyond the next id ${state.lastOffset + 1}`);
      }
      position = Math.max(from, state.firstOffset, 1);
    }
    if (state.cursors === 0) {
      state.cache = [];
      state.cacheStart = state.lastOffset + 1;
    }
    state.cursors += 1;
    const cursor = new LogTailCursor(
      state,
      position,
      (s, fromOffset, toOffset, max) =>
        this.cursorReads(() => this.readStored(s, fromOffset, toOffset, max, STORED_BATCH_BYTES)),
      (c) => {
        this.cursors.delete(c);
        state.cursors -= 1;
        if (state.cursors === 0) this.cacheBytes -= state.cacheClear();
      },
    );
    this.cursors.add(cursor);
    return cursor;
  }

  // ---- subjects and segments -----------------------------------------------------------------------------

  async subjectInfo(subject: string): Promise<SubjectInfo | undefined> {
    const state = this.cachedState(subject) ?? (await this.existingState(subject));
    // A subject that was only tailed, never published to, is in memory but does not exist yet.
    return state === undefined || state.lastOffset === 0 ? undefined : this.info(state);
  }

  private info(state: SubjectState): SubjectInfo {
    let count = 0;
    let bytes = 0;
    let sealed = 0;
    let replicated = 0;
    for (const s of state.segments) {
      if (s.lastOffset > state.lastOffset) {
        // Appends in flight: count what is acknowledged only.
        continue;
      }
      count += s.count;
      bytes += s.bytes;
      if (s.sealed) sealed += 1;
      if (s.replicated) replicated += 1;
    }
    return {
      subject: state.subject,
      firstOffset: state.firstOffset,
      lastOffset: state.lastOffset,
      count,
      bytes,
      segments: state.segments.length,
      sealedSegments: sealed,
      replicatedSegments: replicated,
    };
  }

  async listSubjects(options: { prefix?: string; after?: string; limit: number }): Promise<SubjectInfo[]> {
    const prefix = options.prefix ?? '';
    const lower = headKey(prefix);
    const upper = prefix === '' ? Buffer.from([Family.head + 1]) : prefixEnd(lower);
    const range =
      options.after !== undefined && options.after >= prefix
        ? { gt: headKey(options.after), lt: upper }
        : { gte: lower, lt: upper };
    const subjects: string[] = [];
    for await (const key of this.db.keys({ ...range, limit: options.limit })) subjects.push(parseHeadKey(key));
    const out: SubjectInfo[] = [];
    for (const subject of subjects) out.push(this.info(await this.loadState(subject)));
    return out;
  }

  async segments(subject: string): Promise<SegmentInfo[]> {
    const state = this.cachedState(subject) ?? (await this.existingState(subject));
    return state === undefined ? [] : state.segments.map((s) => segmentInfo(subject, s));
  }

  async allSegments(options: {
    limit: number;
    after?: { subject: string; baseOffset: number };
  }): Promise<SegmentInfo[]> {
    return scanSegments(this.db, Family.segment, options, this.inMemorySegment);
  }

  async unreplicatedSegments(options: {
    limit: number;
    after?: { subject: string; baseOffset: number };
  }): Promise<SegmentInfo[]> {
    return scanSegments(this.db, Family.unreplicated, options, this.inMemorySegment);
  }

  private readonly inMemorySegment = (subject: string, baseOffset: number): SegmentState | undefined =>
    this.states.get(subject)?.segments.find((s) => s.baseOffset === baseOffset);

  async segment(ref: SegmentRef): Promise<SegmentInfo | undefined> {
    const state = this.cachedState(ref.subject) ?? (await this.existingState(ref.subject));
    const segment = state?.segments.find((s) => s.baseOffset === ref.baseOffset);
    return segment === undefined ? undefined : segmentInfo(ref.subject, segment);
  }

  async *readSegment({ subject, baseOffset }: SegmentRef, batchSize = 1000): AsyncIterable<LogRecord[]> {
    const state = await this.loadState(subject);
    const segment = state.segments.find((s) => s.baseOffset === baseOffset);
    if (segment === undefined) return;
    let from = baseOffset;
    const to = Math.min(segment.lastOffset, state.lastOffset);
    while (from <= to) {
      const batch = await this.readStored(state, from, to, batchSize);
      if (batch.length === 0) return;
      yield batch;
      from = batch[batch.length - 1]!.offset + 1;
    }
  }

  async markReplicated({ subject, baseOffset }: SegmentRef): Promise<void> {
    const state = await this.acquire(subject);
    try {
      const segment = state.segments.find((s) => s.baseOffset === baseOffset);
      // A segment being deleted is left alone: its metadata must not be written again after the deletion's batch.
      if (segment === undefined || segment.replicated || segment.deleting) return;
      if (!segment.sealed) throw new Error(`segment ${subject}@${baseOffset} is not sealed`);
      segment.replicated = true;
      await this.writeControl(
        [
          { type: 'put', key: offsetKey(state.segmentPrefix, baseOffset), value: encodeSegment(segment) },
          { type: 'del', key: offsetKey(subjectPrefix(Family.unreplicated, subject), baseOffset) },
        ],
        [state],
      );
    } finally {
      this.release(state);
    }
  }

  async sealStaleSegments(nowMs: number): Promise<SegmentInfo[]> {
    // The age index is ordered by first publish time: only the stale segments are read.
    const candidates: Array<{ subject: string; offset: number }> = [];
    for await (const key of this.db.keys({
      gte: familyBounds(Family.active).gte,
      lt: activeKeyAfter(nowMs - this.options.segmentMaxAgeMs),
    })) {
      candidates.push(parseActiveKey(key));
    }
    const sealed: SegmentInfo[] = [];
    const states: SubjectState[] = [];
    try {
      for (const { subject, offset } of candidates) {
        const state = await this.acquire(subject);
        states.push(state);
        const segment = state.active;
        if (segment === undefined || segment.baseOffset !== offset || segment.count === 0) continue;
        if (nowMs - segment.firstPublishMs < this.options.segmentMaxAgeMs) continue;
        // Appends to this subject that are still in flight belong to this segment; they are written first.
        this.seal(state, segment);
        sealed.push(segmentInfo(subject, segment));
      }
      if (sealed.length > 0) await this.writeControl([], states);
    } finally {
      for (const state of states) this.release(state);
    }
    return sealed;
  }

  onSegmentSealed(listener: (segment: SegmentInfo) => void): () => void {
    this.sealListeners.add(listener);
    return () => this.sealListeners.delete(listener);
  }

  async deleteSegment({ subject, baseOffset }: SegmentRef): Promise<Removed> {
    const state = await this.acquire(subject);
    try {
      const segment = state.segments.find((s) => s.baseOffset === baseOffset);
      if (segment === undefined || segment.deleting) return { records: 0, bytes: 0 };
      if (!segment.sealed) throw new Error(`segment ${subject}@${baseOffset} is not sealed`);
      const removed = { records: segment.count, bytes: segment.bytes };
      // Mark first, so a crash midway is finished on the next open instead of leaving half a segment.
      segment.deleting = true;
      const marker = offsetKey(subjectPrefix(Family.deleting, subject), baseOffset);
      await this.writeControl(
        [
          { type: 'put', key: offsetKey(state.segmentPrefix, baseOffset), value: encodeSegment(segment) },
          { type: 'put', key: marker, value: EMPTY },
        ],
        [state],
      );
      this.cacheBytes -= state.cacheDropThrough(segment.lastOffset);
      await this.db.clear({
        gte: offsetKey(state.recordPrefix, baseOffset),
        lte: offsetKey(state.recordPrefix, segment.lastOffset),
      });
      const index = state.segments.indexOf(segment);
      if (index >= 0) state.segments.splice(index, 1);
      state.firstOffset = await firstStoredOffset(this.db, state);
      await this.writeControl(
        [
          { type: 'del', key: offsetKey(state.segmentPrefix, baseOffset) },
          { type: 'del', key: offsetKey(subjectPrefix(Family.unreplicated, subject), baseOffset) },
          { type: 'del', key: marker },
        ],
        [state],
      );
      return removed;
    } finally {
      this.release(state);
    }
  }

  async deleteRecords(
    { subject, baseOffset }: SegmentRef,
    isExpired: (record: LogRecord) => boolean,
  ): Promise<Removed> {
    const state = await this.acquire(subject);
    try {
      const segment = state.segments.find((s) => s.baseOffset === baseOffset);
      if (segment === undefined || segment.deleting) return { records: 0, bytes: 0 };
      if (!segment.sealed) throw new Error(`segment ${subject}@${baseOffset} is not sealed`);
      const ops: Op[] = [];
      let bytes = 0;
      for await (const batch of this.readSegment({ subject, baseOffset })) {
        for (const record of batch) {
          if (!isExpired(record)) continue;
          ops.push({ type: 'del', key: offsetKey(state.recordPrefix, record.offset) });
          bytes += record.body.length;
        }
      }
      if (ops.length === 0) return { records: 0, bytes: 0 };
      const records = ops.length;
      segment.count -= records;
      segment.bytes -= bytes;
      ops.push({ type: 'put', key: offsetKey(state.segmentPrefix, baseOffset), value: encodeSegment(segment) });
      // Cached copies of the segment would outlive the deletion: readers near the head fall back to the disk.
      this.cacheBytes -= state.cacheDropThrough(segment.lastOffset);
      await this.writeControl(ops, [state]);
      state.firstOffset = await firstStoredOffset(this.db, state);
      return { records, bytes };
    } finally {
      this.release(state);
    }
  }

  /** Completes segment deletions that a crash interrupted (records cleared, metadata removed). */
  // ---- lifecycle -----------------------------------------------------------------------------------------

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    // Everything already accepted is written before the database closes.
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
    for (const cursor of [...this.cursors]) cursor.close();
    this.closed = true;
    await this.db.close();
  }
}
