import {
  FencedError,
  StorageOpenError,
  UnavailableError,
  type AppendInput,
  type Log,
  type LogRecord,
  type LookupResult,
  type ReadLimits,
  type Removed,
  type SegmentInfo,
  type SegmentQuery,
  type SegmentRef,
  type SubjectInfo,
  type SubjectQuery,
  type TailCursor,
} from '../core/index.js';
import { Appender } from './appender.js';
import { BatchAppender } from './batch-appender.js';
import { Deduper } from './dedupe.js';
import { checkFormatVersion } from './format-version.js';
import { GroupCommit, type GroupCommitOptions } from './group-commit.js';
import { HighWaterFile } from './high-water.js';
import { reservationSettings } from './id-reserver.js';
import type { LogOptions } from './options.js';
import { Reader } from './reader.js';
import { sharedWrites } from './replica-commit.js';
import { recoverLostIds } from './recovery.js';
import { recoverReservations } from './reservation-recovery.js';
import { SegmentAdmin } from './segment-admin.js';
import { SegmentRoller } from './segment-roller.js';
import { distrustActiveSegments } from './mirrored-segments.js';
import { countSubjects, createDb, finishInterruptedDeletes, type Db } from './storage.js';
import { NO_LIMITS, StorageLimits, oldestSealed } from './storage-limits.js';
import { createSharedBudgets } from './shared-budgets.js';
import { SubjectCache } from './subject-cache.js';
import { ReplicaStream } from './replica-stream.js';
import type { SubjectState } from './subject-state.js';
import { DEFAULT_WRITE_RETRY, WriteRecovery } from './write-recovery.js';

/**
 * The segmented log on one LevelDB database: a façade over its parts, one per role. Appends (appender.ts) are
 * group-committed (group-commit.ts) into one batch per event-loop turn; subject states live in a bounded cache
 * (subject-cache.ts); reads and tail cursors (reader.ts) and segment administration (segment-admin.ts) share them.
 * If a batch write fails the log fails closed (every later write is UNAVAILABLE): the in-memory offsets can no
 * longer be trusted, and reopening rebuilds them from disk, where nothing unacknowledged claims an offset.
 */
export class LevelDbLog implements Log {
  private readonly commit: GroupCommit;
  private readonly writer: BatchAppender;
  private readonly dedupe: Deduper;
  private readonly reader: Reader;
  private readonly store: SegmentAdmin;
  private readonly recovery: WriteRecovery;
  private readonly limits: StorageLimits;
  /** Acks local with a cold tier: the stream of acknowledged records to it (replica-stream.ts). */
  private readonly stream: ReplicaStream | undefined;

  private constructor(
    private readonly db: Db,
    options: LogOptions,
    private readonly highWater: HighWaterFile,
    /** Subjects on disk at open (head keys), for BROKER_MAX_SUBJECTS. */
    subjectCount: number,
  ) {
    // The tail caches' bytes, the subject count and the stored bytes: this log's own, or shared with other partitions.
    const shared = options.shared ?? createSharedBudgets(options, options.dataDir);
    const limits = (this.limits = new StorageLimits(
      options.limits ?? NO_LIMITS,
      options.dataDir,
      (state: SubjectState): Promise<number> => this.dropOldest(state),
      options.observer,
      undefined,
      shared.storage,
    ));
    const subjects: SubjectCache = new SubjectCache(
      db,
      options.subjectCacheSize,
      shared.tailCache,
      (state) => commit.isDirty(state),
      shared.subjects,
      subjectCount,
    );
    const commit: GroupCommit = (this.commit = new GroupCommit(db, {
      sync: options.fsync === 'batch',
      observer: options.observer,
      tracing: options.tracing,
      tailCache: shared.tailCache,
      afterWrite: afterWriting(subjects, (this.stream = streamOf(options, this))),
      // Fenced, nothing was written and nothing will be: no recovery, the owner gives the partition up.
      onFailure: (err) =>
        err instanceof FencedError && options.onFenced ? options.onFenced(err) : this.recovery.failed(err),
      marks: (heads, sync) => highWater.write(heads, sync),
      ...sharedWrites(options),
    }));
    const roller = new SegmentRoller(commit, options, options.replica !== undefined);
    const appender = new Appender(subjects, commit, roller, options.now ?? Date.now, limits, options.tracing);
    this.dedupe = new Deduper(db, commit, options.dedupeWindowMs ?? 0, options.now ?? Date.now);
    this.writer = new BatchAppender(subjects, commit, appender, this.dedupe, options.now ?? Date.now);
    const reader = new Reader(db, subjects, commit, shared.tailCache, options.observer);
    this.reader = reader;
    this.store = new SegmentAdmin(db, subjects, commit, roller, shared.tailCache, options.observer, limits);
    this.recovery = new WriteRecovery({
      db,
      dataDir: options.dataDir,
      observer: options.observer,
      delays: options.writeRetry ?? DEFAULT_WRITE_RETRY,
      // Cursors follow states that are dropped: they end, and their subscribers resume with from_id.
      forget: () => {
        reader.failCursors(new UnavailableError('the log failed a write and is recovering: resume from the next id'));
        subjects.clear();
      },
      // What a restart would do on open, so the reopened log is the one a restart would give.
      reopened: async () => {
        await distrustActiveSegments(db).then(() => subjects.clear());
        await finishInterruptedDeletes(db);
        await LevelDbLog.recover(db, highWater, options);
        await limits.recount(db);
        // New subjects of the failed batch may not have been written: count the heads again.
        subjects.recount(await countSubjects(db));
      },
      resume: () => commit.resume(),
    });
  }

  /** Deletes the subject's oldest sealed segment (policy 'oldest', storage-limits.ts); resolves with its bytes. */
  private async dropOldest(state: SubjectState): Promise<number> {
    const oldest = oldestSealed(state);
    if (oldest === undefined) return 0;
    return (await this.deleteSegment({ subject: state.subject, baseOffset: oldest.baseOffset })).bytes;
  }

  /**
   * Opens the log on options.dataDir, or on `db` (tests inject one that fails writes). Refuses a data dir in an
   * unknown storage format with UnsupportedFormatError, before anything is written to it.
   */
  static async open(
    options: LogOptions,
    db: Db = createDb(options.dataDir, options.maxOpenFiles, {
      cacheBytes: options.levelDbCacheBytes,
      writeBufferBytes: options.levelDbWriteBufferBytes,
    }),
  ): Promise<LevelDbLog> {
    try {
      await db.open();
    } catch (err) {
      throw new StorageOpenError(options.dataDir, err);
    }
    try {
      await checkFormatVersion(db, options.dataDir);
      await finishInterruptedDeletes(db);
      const highWater = await HighWaterFile.open(options.dataDir);
      await distrustActiveSegments(db);
      await LevelDbLog.recover(db, highWater, options);
      const log = new LevelDbLog(db, options, highWater, await countSubjects(db));
      await log.limits.start(db);
      // A stream of a log that fails to open must not stay on its board.
      await log.oweUnstreamed().catch(async (err: unknown) => {
        await log.stream?.close(0);
        throw err;
      });
      return log;
    } catch (err) {
      await db.close();
      throw err;
    }
  }

  /**
   * The recovery passes: against the high-water marks (recovery.ts), then against the id reservations in the shared
   * store, when there is one (reservation-recovery.ts). Lost acknowledged ids are recorded and reported, and heads
   * raised above them. The reservation pass's ranges of a partition handed over cleanly are recorded the same way
   * (this disk does not serve them) but reported as the previous owner's, not as lost: it flushed them before it
   * released the partition. Damage to this disk (the first pass) is always a loss.
   */
  private static async recover(db: Db, highWater: HighWaterFile, options: LogOptions): Promise<void> {
    // Read back from the side file and dropped after the pass: no mark stays in memory.
    const lost = await recoverLostIds(db, await highWater.marks());
    for (const loss of lost) options.observer?.dataLost?.(loss.subject, loss.from, loss.to, loss.detail);
    const reservations = reservationSettings(options);
    if (reservations === undefined) return;
    for (const { subject, from, to, detail } of await recoverReservations(db, reservations)) {
      if (options.handedOver === true) options.observer?.idsHandedOver?.(subject, from, to, detail);
      else options.observer?.dataLost?.(subject, from, to, detail);
    }
  }

  /**
   * Streaming: what this disk holds that was never streamed (the active segments, which are sealed now so the
   * replication job copies them, and the sealed segments not copied yet) counts in the lag until it is copied.
   */
  private async oweUnstreamed(): Promise<void> {
    const stream = this.stream;
    if (stream === undefined) return;
    await this.store.sealStaleSegments(Number.MAX_SAFE_INTEGER);
    let after: SegmentRef | undefined;
    for (;;) {
      const page = await this.store.unreplicatedSegments({ limit: 500, ...(after === undefined ? {} : { after }) });
      stream.owe(page);
      const last = page.at(-1);
      if (page.length < 500 || last === undefined) return;
      after = { subject: last.subject, baseOffset: last.baseOffset };
    }
  }

  // ---- LogWriter -----------------------------------------------------------------------------------------

  // BROKER_MAX_REPLICATION_LAG: appends are refused while the stream to the cold tier is behind it.

  append(input: AppendInput): Promise<number> {
    const refused = this.stream?.refusal();
    return refused === undefined ? this.writer.append(input) : Promise.reject(refused);
  }

  appendMany(inputs: readonly AppendInput[]): Promise<number[]> {
    const refused = this.stream?.refusal();
    return refused === undefined ? this.writer.appendMany(inputs) : Promise.reject(refused);
  }

  appendBatch(inputs: readonly AppendInput[]): Promise<number[]> {
    const refused = this.stream?.refusal();
    return refused === undefined ? this.writer.appendBatch(inputs) : Promise.reject(refused);
  }

  // ---- LogReader -----------------------------------------------------------------------------------------

  get(subject: string, offset: number): Promise<LookupResult> {
    return this.reader.get(subject, offset);
  }

  readRange(subject: string, fromOffset: number, limits: ReadLimits): Promise<LogRecord[]> {
    return this.reader.readRange(subject, fromOffset, limits);
  }

  tail(subject: string, from: number | 'live'): Promise<TailCursor> {
    return this.reader.tail(subject, from);
  }

  subjectInfo(subject: string): Promise<SubjectInfo | undefined> {
    return this.reader.subjectInfo(subject);
  }

  listSubjects(query: SubjectQuery): Promise<SubjectInfo[]> {
    return this.reader.listSubjects(query);
  }

  /** A page of subjects' names only, loading no state (the partitioned log merges these, then loads its page). */
  listSubjectNames(query: SubjectQuery): Promise<string[]> {
    return this.reader.listSubjectNames(query);
  }

  // ---- SegmentStore --------------------------------------------------------------------------------------

  async segment(ref: SegmentRef): Promise<SegmentInfo | undefined> {
    const segment = await this.store.segment(ref);
    // Sealed, and the stream wrote every record of it: it owes no copy (the replicator skips a replicated segment).
    if (segment === undefined || !segment.sealed || segment.replicated || !(await this.stream?.wroteAll(segment)))
      return segment;
    await this.markReplicated(ref);
    return { ...segment, replicated: true };
  }

  segments(subject: string): Promise<SegmentInfo[]> {
    return this.store.segments(subject);
  }

  unreplicatedSegments(query: SegmentQuery): Promise<SegmentInfo[]> {
    return this.store.unreplicatedSegments(query);
  }

  allSegments(query: SegmentQuery): Promise<SegmentInfo[]> {
    return this.store.allSegments(query);
  }

  readSegment(ref: SegmentRef, batchSize?: number): AsyncIterable<LogRecord[]> {
    const records = this.store.readSegment(ref, batchSize);
    // A sealed segment read (for its copy) is the copy's: no streamed row of it may land after the copy's.
    return this.stream === undefined ? records : afterClaim(this.stream.claim(ref), records);
  }

  async markReplicated(ref: SegmentRef): Promise<void> {
    await this.store.markReplicated(ref);
    this.stream?.settled(ref);
  }

  sealStaleSegments(nowMs: number): Promise<SegmentInfo[]> {
    return this.store.sealStaleSegments(nowMs);
  }

  onSegmentSealed(listener: (segment: SegmentInfo) => void): () => void {
    return this.store.onSegmentSealed(listener);
  }

  async deleteSegment(ref: SegmentRef): Promise<Removed> {
    const removed = await this.store.deleteSegment(ref);
    this.stream?.settled(ref);
    return removed;
  }

  deleteRecords(ref: SegmentRef, isExpired: (record: LogRecord) => boolean): Promise<Removed> {
    return this.store.deleteRecords(ref, isExpired);
  }

  expireIdempotencyKeys(nowMs: number): Promise<number> {
    return this.dedupe.expire(nowMs);
  }

  // ---- lifecycle -----------------------------------------------------------------------------------------

  /** Writes everything accepted (refusing new appends meanwhile), ends every cursor and closes the database. */
  async close(): Promise<void> {
    await this.recovery.close();
    this.limits.close();
    if (!(await this.commit.close())) return;
    await this.stream?.close();
    this.reader.closeCursors();
    await this.highWater.close();
    await this.db.close();
  }
}

async function* afterClaim(claimed: Promise<void>, records: AsyncIterable<LogRecord[]>): AsyncIterable<LogRecord[]> {
  await claimed;
  yield* records;
}

/** Acks local with a cold tier: the stream. A drop seals the active segments, so the replication job copies them. */
function streamOf(options: LogOptions, log: LevelDbLog): ReplicaStream | undefined {
  const settings = options.replica === undefined ? options.replicaStream : undefined;
  if (settings === undefined) return undefined;
  return new ReplicaStream(settings, () => void log.sealStaleSegments(Number.MAX_SAFE_INTEGER).catch(() => undefined));
}

/** After each written batch: the subject cache evicts, and a stream queues the acknowledged appends. */
function afterWriting(subjects: SubjectCache, stream: ReplicaStream | undefined): GroupCommitOptions['afterWrite'] {
  if (stream === undefined) return () => subjects.evict();
  return (appends) => {
    subjects.evict();
    stream.committed(appends);
  };
}
