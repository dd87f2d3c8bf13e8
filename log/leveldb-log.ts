import {
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
import { GroupCommit } from './group-commit.js';
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
    const commit: GroupCommit = new GroupCommit(db, {
      sync: options.fsync === 'batch',
      observer: options.observer,
      tracing: options.tracing,
      tailCache: shared.tailCache,
      afterWrite: () => subjects.evict(),
      onFailure: (err) => this.recovery.failed(err),
      marks: (heads, sync) => highWater.write(heads, sync),
      ...sharedWrites(options),
    });
    const roller = new SegmentRoller(commit, options, options.replica !== undefined);
    this.commit = commit;
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
    return (await this.store.deleteSegment({ subject: state.subject, baseOffset: oldest.baseOffset })).bytes;
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

  // ---- LogWriter -----------------------------------------------------------------------------------------

  append(input: AppendInput): Promise<number> {
    return this.writer.append(input);
  }

  appendMany(inputs: readonly AppendInput[]): Promise<number[]> {
    return this.writer.appendMany(inputs);
  }

  appendBatch(inputs: readonly AppendInput[]): Promise<number[]> {
    return this.writer.appendBatch(inputs);
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

  segment(ref: SegmentRef): Promise<SegmentInfo | undefined> {
    return this.store.segment(ref);
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
    return this.store.readSegment(ref, batchSize);
  }

  markReplicated(ref: SegmentRef): Promise<void> {
    return this.store.markReplicated(ref);
  }

  sealStaleSegments(nowMs: number): Promise<SegmentInfo[]> {
    return this.store.sealStaleSegments(nowMs);
  }

  onSegmentSealed(listener: (segment: SegmentInfo) => void): () => void {
    return this.store.onSegmentSealed(listener);
  }

  deleteSegment(ref: SegmentRef): Promise<Removed> {
    return this.store.deleteSegment(ref);
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
    this.reader.closeCursors();
    await this.highWater.close();
    await this.db.close();
  }
}
