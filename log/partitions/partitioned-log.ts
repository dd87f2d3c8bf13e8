import { mkdir } from 'node:fs/promises';
import {
  NotOwnerError,
  UnavailableError,
  partitionOf,
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
} from '../../core/index.js';
import { LevelDbLog } from '../leveldb-log.js';
import { notify } from '../notify.js';
import type { PartitionedLogOptions } from '../options.js';
import { settleReleased, type ReleaseOptions } from '../reservation-settle.js';
import { PartitionEpochs, type AcquireOptions } from './epochs.js';
import { heldOpenError, reopenWhileHeld } from './held-open.js';
import { ensurePartitionLayout, isDirectory, partitionDir, type PartitionLayout } from './layout.js';
import { mergeSegmentPages, mergeSubjectNames } from './merge.js';
import { PartitionSettings, ownedPartitions } from './partition-options.js';
import { splitByPartition, type Parts } from './split.js';

const NEVER: LookupResult = Object.freeze({ kind: 'never', lastOffset: 0 });
const NOTHING_REMOVED: Removed = Object.freeze({ records: 0, bytes: 0 });

/**
 * The log of a data dir split into partitions (layout.ts), over the partitions this process owns: each a LevelDbLog
 * of its own, opened lazily. A partition whose dir exists is opened at open() (so recovery, the limits and the
 * background jobs see it); one without is created by its first append (or tail), and until then reads of its
 * subjects answer as an empty log would, creating nothing. A subject's calls go to its partition
 * (partitionOf(subject)); one in a partition this process does not own is refused with NotOwnerError. Calls over
 * many subjects merge the owned partitions' answers in the order one database would give (subject bytes, offset).
 * appendBatch is atomic within a partition only: each partition's part is one write.
 */
export class PartitionedLog implements Log {
  /** The data dir's partition count. */
  readonly partitions: number;
  /** The partitions this process owns (at open; a cluster member's change with acquire and release). */
  private readonly ownedSet: Set<number>;
  private readonly logs = new Map<number, LevelDbLog>();
  private readonly opening = new Map<number, Promise<LevelDbLog>>();
  /** Partitions acquired and not open yet: never read as empty meanwhile (held-open.ts). */
  private readonly acquiring = new Set<number>();
  /** Fenced (a newer owner's epoch), a partition's log gives it up here. */
  private readonly epochs = new PartitionEpochs((p) => void this.release(p).catch(() => undefined));
  private readonly sealListeners = new Set<(segment: SegmentInfo) => void>();
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly layout: PartitionLayout,
    private readonly settings: PartitionSettings,
    owned: readonly number[],
    private readonly ownerName: (partition: number) => string,
    /** Whether appends to a partition may go on (a cluster member's lease: fencing by time). */
    private readonly appendGate: (partition: number) => boolean,
  ) {
    this.partitions = layout.partitions;
    this.ownedSet = new Set(owned);
  }

  /** The partitions this process owns, in order. */
  get owned(): readonly number[] {
    return [...this.ownedSet].sort((a, b) => a - b);
  }

  /**
   * Takes a partition over (a cluster member that was given it, at a lease epoch): its log opens now, fencing its id
   * reservations at the epoch and continuing its ids above any the previous owner may have acknowledged.
   */
  async acquire(partition: number, options: AcquireOptions = {}): Promise<void> {
    ownedPartitions([partition], this.partitions); // throws for one that is not the data dir's
    this.ownedSet.add(partition);
    this.epochs.set(partition, options.epoch);
    this.acquiring.add(partition);
    const wanted = (): boolean => this.acquiring.has(partition) && this.closing === undefined;
    const open = (): Promise<LevelDbLog> => this.openPartition(partition, options.handedOver === true);
    await open().catch(reopenWhileHeld(open, wanted));
  }

  /**
   * Gives a partition up: from now its subjects are NOT_OWNER here; appends already accepted are written, cursors
   * end, and its log closes (its files stay, for whoever owns the partition next on this disk). A clean hand-over
   * (options.settleWhile) then settles its id reservations to its heads (reservation-settle.ts), when configured.
   */
  async release(partition: number, options: ReleaseOptions = {}): Promise<void> {
    this.ownedSet.delete(partition);
    this.acquiring.delete(partition);
    const log = this.logs.get(partition) ?? (await this.opening.get(partition)?.catch(() => undefined));
    this.logs.delete(partition);
    await log?.close();
    if (log !== undefined)
      await settleReleased(this.epochs.options(partition, this.settings.forPartition(partition)), options);
  }

  /**
   * Seals every open segment of a partition (a hand-over: the cold tier then takes all of it, so the next owner
   * serves every id from there); resolves with the segments sealed.
   */
  async sealPartition(partition: number): Promise<SegmentInfo[]> {
    const log = this.logs.get(partition);
    return log === undefined ? [] : log.sealStaleSegments(Number.MAX_SAFE_INTEGER);
  }

  /**
   * Opens the owned partitions of options.dataDir (creating the dir and its marker when new; refusing a
   * options.partitions that differs from the dir's with ConfigError), those with a dir (all of them with
   * idReservations) at once, the rest lazily.
   */
  static async open(options: PartitionedLogOptions): Promise<PartitionedLog> {
    const layout = await ensurePartitionLayout(options.dataDir, options.partitions);
    const owned = ownedPartitions(options.owned, layout.partitions);
    // A cluster member's partitions come and go: its totals are its whole (it may come to hold any share).
    const settings = new PartitionSettings(
      options,
      layout,
      options.appendGate === undefined ? owned.length : layout.partitions,
    );
    const log = new PartitionedLog(
      layout,
      settings,
      owned,
      options.ownerName ?? (() => 'another worker'),
      options.appendGate ?? (() => true),
    );
    const existing: number[] = [];
    // With id reservations every owned partition opens now: one whose disk was wiped must answer DATA_LOSS for the
    // ids reserved in the shared store (its recovery pass recreates its subjects), not read as an empty log.
    const eager = options.idReservations !== undefined;
    for (const p of owned) if (eager || (await isDirectory(partitionDir(layout, p)))) existing.push(p);
    const opened = await Promise.allSettled(existing.map((p) => log.openPartition(p)));
    const failed = opened.find((r) => r.status === 'rejected');
    if (failed !== undefined) {
      await log.close().catch(() => undefined);
      throw failed.reason;
    }
    return log;
  }

  /** The partition of a subject. */
  partitionOf(subject: string): number {
    return partitionOf(subject, this.partitions);
  }

  /** Whether this process owns the subject's partition. */
  owns(subject: string): boolean {
    return this.ownedSet.has(this.partitionOf(subject));
  }

  /**
   * Files the owned partitions may hold open together, for the process's descriptor budget (api/server/fd-budget.ts):
   * per partition its LevelDB's maxOpenFiles and its high-water side file (kept open for appending).
   */
  get maxOpenFiles(): number {
    return this.owned.length * (this.settings.maxOpenFiles + 1);
  }

  // ---- routing -------------------------------------------------------------------------------------------

  /** The subject's partition, if this process owns it; else NotOwnerError. */
  private route(subject: string): number {
    const p = this.partitionOf(subject);
    if (!this.ownedSet.has(p)) throw new NotOwnerError(subject, p, this.ownerName(p));
    return p;
  }

  /** route(), for a write: also refused while the append gate (a cluster member's lease) says no. */
  private routeWrite(subject: string): number {
    const p = this.route(subject);
    if (!this.appendGate(p)) throw new NotOwnerError(subject, p, this.ownerName(p));
    return p;
  }

  /** The subject's partition's log for a read: undefined while it has no dir (an empty log). */
  private async reading(subject: string): Promise<LevelDbLog | undefined> {
    const p = this.route(subject);
    return this.logs.get(p) ?? this.opening.get(p) ?? (this.acquiring.has(p) ? this.openPartition(p) : undefined);
  }

  /** The subject's partition's log for a write, created if it has no dir yet. */
  private writing(subject: string): Promise<LevelDbLog> {
    const p = this.routeWrite(subject);
    const log = this.logs.get(p);
    return log === undefined ? this.openPartition(p) : Promise.resolve(log);
  }

  /**
   * Opens (creating) a partition's log, once however many ask. Callers chain on the promise returned: the log is
   * put in `logs` by the first reaction to it, so the calls queued while it opened reach the log in call order,
   * before any made after.
   */
  private openPartition(p: number, handedOver = false): Promise<LevelDbLog> {
    const pending = this.opening.get(p);
    if (pending !== undefined) return pending;
    const opening = this.createPartition(p, handedOver);
    this.opening.set(p, opening);
    opening.then(
      (log) => {
        this.logs.set(p, log);
        this.opening.delete(p);
        this.acquiring.delete(p);
      },
      () => this.opening.delete(p),
    );
    return opening;
  }

  private async createPartition(p: number, handedOver: boolean): Promise<LevelDbLog> {
    if (this.closing !== undefined) throw new UnavailableError('the log is closed');
    const dir = partitionDir(this.layout, p);
    await mkdir(dir, { recursive: true });
    const options = { ...this.epochs.options(p, this.settings.forPartition(p)), handedOver };
    const log = await LevelDbLog.open(options).catch(heldOpenError(p, this.acquiring.has(p)));
    if (this.closing !== undefined) {
      await log.close();
      throw new UnavailableError('the log is closed');
    }
    log.onSegmentSealed((segment) => {
      for (const listener of this.sealListeners) notify(() => listener(segment));
    });
    return log;
  }

  /** The open partitions' logs, in partition order. */
  private openLogs(): LevelDbLog[] {
    return [...this.logs.entries()].sort(([a], [b]) => a - b).map(([, log]) => log);
  }

  // ---- LogWriter -----------------------------------------------------------------------------------------

  append(input: AppendInput): Promise<number> {
    let p: number;
    try {
      p = this.routeWrite(input.subject);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.writeTo(p, (log) => log.append(input));
  }

  appendMany(inputs: readonly AppendInput[]): Promise<number[]> {
    return this.appendSplit(inputs, (log, part) => log.appendMany(part));
  }

  /** Atomic within each partition: every partition's part is one write; a part that fails leaves the others. */
  appendBatch(inputs: readonly AppendInput[]): Promise<number[]> {
    return this.appendSplit(inputs, (log, part) => log.appendBatch(part));
  }

  /**
   * Appends each partition's inputs with `write`, all parts at once (an open partition's synchronously, so calls
   * reach it in call order); resolves with the offsets in input order once every part is written, or rejects with
   * the first part's failure once every part has settled. A subject in a partition this process does not own
   * refuses the whole call before anything is appended.
   */
  private appendSplit(
    inputs: readonly AppendInput[],
    write: (log: LevelDbLog, part: readonly AppendInput[]) => Promise<number[]>,
  ): Promise<number[]> {
    let parts: Parts;
    try {
      parts = splitByPartition(inputs, (subject) => this.routeWrite(subject));
    } catch (err) {
      return Promise.reject(err);
    }
    if (parts.single !== undefined) return this.writeTo(parts.single, (log) => write(log, inputs));
    if (parts.groups.length === 0) return Promise.resolve([]);
    const written = parts.groups.map((group) => this.writeTo(group.partition, (log) => write(log, group.inputs)));
    return Promise.allSettled(written).then((settled) => {
      const ids = new Array<number>(inputs.length).fill(0);
      settled.forEach((result, g) => {
        if (result.status === 'rejected') throw result.reason;
        parts.groups[g]?.indexes.forEach((index, k) => (ids[index] = result.value[k] ?? 0));
      });
      return ids;
    });
  }

  /** Runs `write` on a partition's log: at once when it is open, else once it is (created and) opened. */
  private writeTo<T>(partition: number, write: (log: LevelDbLog) => Promise<T>): Promise<T> {
    const log = this.logs.get(partition);
    return log !== undefined ? write(log) : this.openPartition(partition).then(write);
  }

  // ---- LogReader -----------------------------------------------------------------------------------------

  async get(subject: string, offset: number): Promise<LookupResult> {
    const log = await this.reading(subject);
    return log === undefined ? NEVER : log.get(subject, offset);
  }

  async readRange(subject: string, fromOffset: number, limits: ReadLimits): Promise<LogRecord[]> {
    const log = await this.reading(subject);
    return log === undefined ? [] : log.readRange(subject, fromOffset, limits);
  }

  /** A cursor waits for the appends that will create the partition: a tail opens (creates) it. */
  async tail(subject: string, from: number | 'live'): Promise<TailCursor> {
    return (await this.writing(subject)).tail(subject, from);
  }

  async subjectInfo(subject: string): Promise<SubjectInfo | undefined> {
    return (await this.reading(subject))?.subjectInfo(subject);
  }

  /**
   * Each partition's page of names (keys only), merged; then the states of the page's subjects alone are loaded, so
   * a page costs what it does on one database, not a page per partition.
   */
  async listSubjects(query: SubjectQuery): Promise<SubjectInfo[]> {
    const logs = this.openLogs();
    if (logs.length === 1) return logs[0]?.listSubjects(query) ?? [];
    const pages = await Promise.all(logs.map((log) => log.listSubjectNames(query)));
    const out: SubjectInfo[] = [];
    for (const subject of mergeSubjectNames(pages, query.limit)) {
      // Each subject may load its state from disk; an abandoned call stops here with what it has.
      if (query.signal?.aborted === true) break;
      const info = await this.logs.get(this.partitionOf(subject))?.subjectInfo(subject);
      if (info !== undefined) out.push(info);
    }
    return out;
  }

  // ---- SegmentStore --------------------------------------------------------------------------------------

  async segment(ref: SegmentRef): Promise<SegmentInfo | undefined> {
    return (await this.reading(ref.subject))?.segment(ref);
  }

  async segments(subject: string): Promise<SegmentInfo[]> {
    return (await (await this.reading(subject))?.segments(subject)) ?? [];
  }

  async unreplicatedSegments(query: SegmentQuery): Promise<SegmentInfo[]> {
    const pages = await Promise.all(this.openLogs().map((log) => log.unreplicatedSegments(query)));
    return mergeSegmentPages(pages, query.limit);
  }

  async allSegments(query: SegmentQuery): Promise<SegmentInfo[]> {
    const pages = await Promise.all(this.openLogs().map((log) => log.allSegments(query)));
    return mergeSegmentPages(pages, query.limit);
  }

  async *readSegment(ref: SegmentRef, batchSize?: number): AsyncIterable<LogRecord[]> {
    const log = await this.reading(ref.subject);
    if (log !== undefined) yield* log.readSegment(ref, batchSize);
  }

  async markReplicated(ref: SegmentRef): Promise<void> {
    await (await this.reading(ref.subject))?.markReplicated(ref);
  }

  async sealStaleSegments(nowMs: number): Promise<SegmentInfo[]> {
    return (await Promise.all(this.openLogs().map((log) => log.sealStaleSegments(nowMs)))).flat();
  }

  /** Hears of seals in every partition, those opened later included. */
  onSegmentSealed(listener: (segment: SegmentInfo) => void): () => void {
    // A wrapper of its own, so the same listener subscribed twice is called twice, as one LevelDbLog does.
    const own = (segment: SegmentInfo): void => listener(segment);
    this.sealListeners.add(own);
    return () => this.sealListeners.delete(own);
  }

  async deleteSegment(ref: SegmentRef): Promise<Removed> {
    return (await (await this.reading(ref.subject))?.deleteSegment(ref)) ?? NOTHING_REMOVED;
  }

  async deleteRecords(ref: SegmentRef, isExpired: (record: LogRecord) => boolean): Promise<Removed> {
    return (await (await this.reading(ref.subject))?.deleteRecords(ref, isExpired)) ?? NOTHING_REMOVED;
  }

  async expireIdempotencyKeys(nowMs: number): Promise<number> {
    const counts = await Promise.all(this.openLogs().map((log) => log.expireIdempotencyKeys(nowMs)));
    return counts.reduce((sum, n) => sum + n, 0);
  }

  // ---- lifecycle -----------------------------------------------------------------------------------------

  /** Closes every partition (each writes everything accepted and ends its cursors); partitions opening are awaited. */
  close(): Promise<void> {
    this.closing ??= this.closeAll();
    return this.closing;
  }

  private async closeAll(): Promise<void> {
    await Promise.allSettled([...this.opening.values()]);
    const closed = await Promise.allSettled(this.openLogs().map((log) => log.close()));
    const failed = closed.find((r) => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }
}
