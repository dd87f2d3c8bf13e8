import { InvariantError, type AppendInput } from '../core/index.js';
import { decodeDedupe, encodeDedupe, type DedupeEntry } from './codec.js';
import type { GroupCommit, Op } from './group-commit.js';
import { Family, dedupeKey, familyBounds, parseDedupeKey, subjectPrefix } from './keys.js';
import type { Db } from './storage.js';
import type { SubjectState } from './subject-state.js';

/** Keys remembered per subject in memory (the newest); an older one costs a point read. */
const MEMORY_KEYS_PER_SUBJECT = 4096;
/** Keys a compaction sweep reads per LevelDB iteration. */
const SWEEP_PAGE = 1000;

/** What one input of an append does about its idempotency key. */
export type KeyPlan =
  /** No key, or deduplication is off: it is appended. */
  | { readonly kind: 'none' }
  /** This call holds the key: it appends the input unless the key is found within the window. */
  | { readonly kind: 'owner'; readonly token: string }
  /** An earlier input of the same call has the key: the same id. */
  | { readonly kind: 'same'; readonly index: number }
  /** Another call in flight holds the key: its id, once it has one. */
  | { readonly kind: 'other'; readonly id: Promise<number> };

const NONE: KeyPlan = { kind: 'none' };

/**
 * Idempotent appends: an idempotency key published again to the same subject within `windowMs` resolves with the
 * offset of the append that first used it. The key → (offset, publish time) entry is written in the batch of the
 * record it names, so it survives exactly what the record survives. Concurrent appends with one key resolve to one
 * record: a key is held (in memory) from the call that appends it until that append is acknowledged and the entry
 * remembered, and a later call waits for its id. Lookups go to a bounded per-subject map of the newest keys, then
 * to LevelDB (one getMany for all misses of a call). Compaction deletes entries past the window (`expire`); a key
 * reused after the window is simply overwritten.
 */
export class Deduper {
  private readonly held = new Map<string, Promise<number>>();
  /** Per subject state, so the keys leave memory with it (the entries stay on disk). */
  private readonly memory = new WeakMap<SubjectState, Map<string, DedupeEntry>>();
  /** Keys held while a sweep runs: the sweep must not delete the entries they are about to write. */
  private touched: Set<string> | undefined;

  constructor(
    private readonly db: Db,
    private readonly commit: GroupCommit,
    /** 0 = off. */
    readonly windowMs: number,
    private readonly now: () => number,
  ) {}

  /** Whether the input's key is to be deduplicated. */
  keyed(input: AppendInput): input is AppendInput & { readonly key: string } {
    return this.windowMs > 0 && input.key !== undefined && input.key !== '';
  }

  /** Decides, synchronously at the call, which inputs this call holds the keys of and which wait for another id. */
  plan(inputs: readonly AppendInput[]): KeyPlan[] {
    const mine = new Map<string, number>();
    return inputs.map((input, i) => {
      if (!this.keyed(input)) return NONE;
      const token = tokenOf(input.subject, input.key);
      const earlier = mine.get(token);
      if (earlier !== undefined) return { kind: 'same', index: earlier };
      const other = this.held.get(token);
      if (other !== undefined) return { kind: 'other', id: other };
      mine.set(token, i);
      return { kind: 'owner', token };
    });
  }

  /** Holds the keys this call owns until `ids` settles (after their entries are remembered). */
  hold(plans: readonly KeyPlan[], ids: Promise<number[]>): void {
    plans.forEach((plan, i) => {
      if (plan.kind !== 'owner') return;
      const id = ids.then((all) => all[i] ?? lost(i));
      // Only waiters that exist listen; the caller hears of a failure through `ids`.
      id.catch(() => undefined);
      this.held.set(plan.token, id);
      this.touched?.add(plan.token);
      const release = (): void => {
        if (this.held.get(plan.token) === id) this.held.delete(plan.token);
      };
      ids.then(release, release);
    });
  }

  /** For each owned key: the offset it already has within the window, from memory or else from disk. */
  async find(
    inputs: readonly AppendInput[],
    plans: readonly KeyPlan[],
    states: ReadonlyMap<string, SubjectState>,
  ): Promise<Array<number | undefined>> {
    const found = new Array<number | undefined>(inputs.length).fill(undefined);
    const misses: Array<{ index: number; key: Buffer }> = [];
    const now = this.now();
    plans.forEach((plan, i) => {
      const input = inputs[i];
      if (plan.kind !== 'owner' || input === undefined || !this.keyed(input)) return;
      const state = states.get(input.subject);
      const entry = state === undefined ? undefined : this.memory.get(state)?.get(input.key);
      // Memory is never older than disk (entries are remembered after they are written), so a hit decides.
      if (entry !== undefined) found[i] = this.live(entry, now);
      else misses.push({ index: i, key: dedupeKey(subjectPrefix(Family.dedupe, input.subject), input.key) });
    });
    if (misses.length === 0) return found;
    const values = await this.db.getMany(misses.map((m) => m.key));
    misses.forEach((m, k) => {
      const value = values[k];
      const entry = value === undefined ? undefined : decodeDedupe(value);
      if (entry !== undefined) found[m.index] = this.live(entry, this.now());
    });
    return found;
  }

  /** Puts the key's entry into the batch being built, beside the record it names. */
  stage(state: SubjectState, key: string, offset: number, publishedAtMs: number): void {
    const k = dedupeKey(subjectPrefix(Family.dedupe, state.subject), key);
    this.commit.pending().put(k, encodeDedupe(offset, publishedAtMs));
  }

  /** The entry is written: later calls find it in memory. */
  remember(state: SubjectState, key: string, entry: DedupeEntry): void {
    let keys = this.memory.get(state);
    if (keys === undefined) {
      keys = new Map();
      this.memory.set(state, keys);
    }
    keys.delete(key);
    keys.set(key, entry);
    if (keys.size > MEMORY_KEYS_PER_SUBJECT) {
      const oldest = keys.keys().next();
      if (oldest.done !== true) keys.delete(oldest.value);
    }
  }

  /**
   * Deletes the entries whose window ended by `nowMs`, a page at a time, through the group commit; returns how many.
   * An entry whose key is held (or was held since the sweep began) is left alone: its append writes a new one.
   */
  async expire(nowMs: number): Promise<number> {
    if (this.windowMs <= 0 || this.touched !== undefined) return 0;
    const touched = new Set<string>();
    this.touched = touched;
    let removed = 0;
    try {
      const bounds = familyBounds(Family.dedupe);
      let after: Buffer | undefined;
      for (;;) {
        const range = after === undefined ? bounds : { gt: after, lt: bounds.lt };
        const page = await this.db.iterator({ ...range, limit: SWEEP_PAGE }).all();
        const last = page.at(-1);
        if (last === undefined) break;
        // Decided and queued in one synchronous step, so no append can take a key between the check and the delete.
        const ops: Op[] = [];
        for (const [key, value] of page) {
          const entry = decodeDedupe(value);
          if (entry !== undefined && entry.publishedAtMs + this.windowMs > nowMs) continue;
          const parsed = parseDedupeKey(key);
          const token = tokenOf(parsed.subject, parsed.key);
          if (!touched.has(token) && !this.held.has(token)) ops.push({ type: 'del', key: Buffer.from(key) });
        }
        if (ops.length > 0) await this.commit.control(ops, []);
        removed += ops.length;
        after = Buffer.from(last[0]);
        if (page.length < SWEEP_PAGE) break;
      }
    } finally {
      this.touched = undefined;
    }
    return removed;
  }

  private live(entry: DedupeEntry, now: number): number | undefined {
    return entry.publishedAtMs + this.windowMs > now ? entry.offset : undefined;
  }
}

/** Subjects hold no 0x00, so subject · 0x00 · key names one key of one subject. */
function tokenOf(subject: string, key: string): string {
  return `${subject}\u0000${key}`;
}

function lost(index: number): never {
  throw new InvariantError(`an idempotent append lost the offset of input ${index}`);
}
