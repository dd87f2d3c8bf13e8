import { SubjectLimitError } from '../core/index.js';
import { headKey } from './keys.js';
import { readSubjectState, type Db } from './storage.js';
import type { SubjectState } from './subject-state.js';
import type { TailCacheBudget } from './tail-cache-budget.js';

/** Told when a subject's state has loaded (before anything else can see it), or that the load failed. */
export interface LoadWaiter {
  loaded(state: SubjectState): void;
  failed(err: unknown): void;
}

interface Loading {
  promise: Promise<SubjectState>;
  /** acquire() calls waiting for this load: the state is pinned for them as soon as it loads. */
  pins: number;
  /** whenLoaded() calls, in call order. */
  waiters: LoadWaiter[];
}

/**
 * The subject states in memory, at most `maxSubjects` of them beyond those that must stay. A state is loaded on
 * first use (one load per subject however many ask at once) and evicted by a second-chance (CLOCK) approximation of
 * LRU. A state with appends in flight, open cursors or pins (operations holding it across awaits) is never evicted,
 * nor one that `mustStay` keeps (its head is still to be written).
 */
export class SubjectCache {
  private readonly states = new Map<string, SubjectState>();
  private readonly loading = new Map<string, Loading>();
  /** Bumped by clear(): a load that started before it read a database that may since have changed, so it reloads. */
  private generation = 0;
  /** States loaded for subjects with no head on disk: their first append makes a new subject, counted by admit(). */
  private readonly fresh = new WeakSet<SubjectState>();
  /** Subjects this log holds, counted into `subjectLimit` (which the partitions of a partitioned log share). */
  private held: number;

  constructor(
    private readonly db: Db,
    private readonly maxSubjects: number,
    private readonly budget: TailCacheBudget,
    private readonly mustStay: (state: SubjectState) => boolean,
    /**
     * Subjects the log may hold (BROKER_MAX_SUBJECTS) and how many are held: by this log alone, or by every
     * partition sharing the object (log/partitions/). `held` (head keys counted at open) is added to it.
     */
    private readonly subjectLimit: { readonly max: number; count: number } = { max: Infinity, count: 0 },
    held = 0,
  ) {
    this.held = held;
    subjectLimit.count += held;
  }

  /** How many subjects the log holds (or will, once the appends admitted are written). */
  get subjectCount(): number {
    return this.subjectLimit.count;
  }

  /** Sets the count from disk (at a reopen after a failed write, whose new subjects may not have been written). */
  recount(count: number): void {
    this.subjectLimit.count += count - this.held;
    this.held = count;
  }

  /**
   * Called before the first append to a state: a subject with no head on disk becomes one more subject, unless the
   * log already holds BROKER_MAX_SUBJECTS. Synchronous, so appends to new subjects are counted in call order.
   */
  admit(state: SubjectState): SubjectLimitError | undefined {
    if (!this.fresh.has(state)) return undefined;
    const limit = this.subjectLimit;
    if (limit.count >= limit.max) return new SubjectLimitError(state.subject, limit.max);
    limit.count += 1;
    this.held += 1;
    this.fresh.delete(state);
    return undefined;
  }

  /** The state if it is in memory, marked as used. */
  cached(subject: string): SubjectState | undefined {
    const state = this.states.get(subject);
    // Second chance (CLOCK) instead of strict LRU: a flag per access, the reordering is left to evict().
    if (state !== undefined) state.recent = true;
    return state;
  }

  /** The state if it is in memory, without marking it used (for sweeps over many subjects). */
  peek(subject: string): SubjectState | undefined {
    return this.states.get(subject);
  }

  /** The subject's state, loading it if needed. Not pinned: for reads, which may use a state evicted meanwhile. */
  load(subject: string): Promise<SubjectState> {
    const cached = this.cached(subject);
    if (cached !== undefined) return Promise.resolve(cached);
    return this.startLoad(subject).promise;
  }

  /** The state of a subject that exists, without creating in-memory state for unknown ones. */
  async existing(subject: string): Promise<SubjectState | undefined> {
    if (this.loading.has(subject)) return this.load(subject);
    const head = await this.db.get(headKey(subject));
    if (head === undefined) return undefined;
    return this.load(subject);
  }

  /**
   * The subject's state, pinned in memory until release(): for operations that change it across awaits, which
   * must not work on a state that was evicted (and reloaded by someone else) in the meantime.
   */
  acquire(subject: string): Promise<SubjectState> {
    const cached = this.cached(subject);
    if (cached !== undefined) {
      cached.pins += 1;
      return Promise.resolve(cached);
    }
    const loading = this.startLoad(subject);
    loading.pins += 1;
    return loading.promise;
  }

  release(state: SubjectState): void {
    state.pins -= 1;
  }

  /**
   * Tells `waiter` when the state of a subject that is not in memory has loaded: waiters are called in call order,
   * before the state is in anyone else's hands, so appends queued here keep call order.
   */
  whenLoaded(subject: string, waiter: LoadWaiter): void {
    this.startLoad(subject).waiters.push(waiter);
  }

  /** Evicts unused states beyond the limit; a state used since the last sweep goes to the end instead. */
  evict(): void {
    const max = this.maxSubjects;
    if (this.states.size <= max) return;
    // Map order is load order; a state used since the last sweep gets a second chance at the end of the order.
    for (const [subject, state] of this.states) {
      if (this.states.size <= max) break;
      if (!state.evictable || this.mustStay(state)) continue;
      this.states.delete(subject);
      if (state.recent) {
        state.recent = false;
        this.states.set(subject, state);
      } else {
        this.budget.clear(state);
      }
    }
  }

  /**
   * Forgets every state (after a failed write their offsets cannot be trusted): the next use reloads from disk, and
   * loads under way restart, so no state read before the call survives it. Their tail caches go with them.
   */
  clear(): void {
    this.generation += 1;
    for (const state of this.states.values()) this.budget.clear(state);
    this.states.clear();
    this.loading.clear();
  }

  private startLoad(subject: string): Loading {
    const loading = this.loading.get(subject);
    if (loading !== undefined) return loading;
    const entry: Omit<Loading, 'promise'> = { pins: 0, waiters: [] };
    const generation = this.generation;
    const promise = readSubjectState(this.db, subject).then(
      (state) => (generation === this.generation ? this.loaded(subject, entry, state) : this.restart(subject, entry)),
      (err: unknown) =>
        generation === this.generation ? this.loadFailed(subject, entry, err) : this.restart(subject, entry),
    );
    // Waiters that only wanted the appends may not listen; the error reaches them through their own promises.
    promise.catch(() => undefined);
    const started = Object.assign(entry, { promise });
    this.loading.set(subject, started);
    return started;
  }

  private loaded(subject: string, entry: Omit<Loading, 'promise'>, state: SubjectState): SubjectState {
    this.loading.delete(subject);
    state.recent = true;
    if (state.lastOffset === 0) this.fresh.add(state);
    this.states.set(subject, state);
    // Before anything else can see the state: pin it for those waiting, and hand it to the queued waiters.
    state.pins += entry.pins;
    for (const waiter of entry.waiters) waiter.loaded(state);
    this.evict();
    return state;
  }

  /** A load that clear() overtook: its waiters join a fresh load, ahead of any that came after the clear. */
  private restart(subject: string, entry: Omit<Loading, 'promise'>): Promise<SubjectState> {
    const next = this.startLoad(subject);
    next.pins += entry.pins;
    next.waiters.unshift(...entry.waiters);
    return next.promise;
  }

  private loadFailed(subject: string, entry: Omit<Loading, 'promise'>, err: unknown): never {
    this.loading.delete(subject);
    for (const waiter of entry.waiters) waiter.failed(err);
    throw err;
  }
}
