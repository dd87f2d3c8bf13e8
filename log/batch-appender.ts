import { InvalidArgumentError, InvariantError, type AppendInput } from '../core/index.js';
import type { Appender } from './appender.js';
import type { Deduper, KeyPlan } from './dedupe.js';
import type { GroupCommit } from './group-commit.js';
import type { SubjectCache } from './subject-cache.js';
import type { SubjectState } from './subject-state.js';

/** What the synchronous step of an atomic append handed to the group commit. */
interface Assigned {
  /** Per input: its append, or undefined when it needs none (its key already has an id). */
  readonly appends: Array<Promise<number> | undefined>;
  readonly states: ReadonlyMap<string, SubjectState>;
  readonly at: number;
}

/**
 * Atomic appends across subjects, and every append with an idempotency key. It waits until every subject's state is
 * loaded (pinned, so none is evicted meanwhile) and the keys are looked up, then assigns every offset in one
 * synchronous step, so all of them land in the one group-commit batch being built: a crash leaves all or none.
 * Appends without keys to one subject take the appender's own path, whose hot path this leaves untouched.
 */
export class BatchAppender {
  constructor(
    private readonly subjects: SubjectCache,
    private readonly commit: GroupCommit,
    private readonly appender: Appender,
    private readonly dedupe: Deduper,
    private readonly now: () => number,
  ) {}

  append(input: AppendInput): Promise<number> {
    if (!this.dedupe.keyed(input)) return this.appender.append(input);
    return this.appendBatch([input]).then((ids) => ids[0] ?? lost(0));
  }

  appendMany(inputs: readonly AppendInput[]): Promise<number[]> {
    if (!inputs.some((input) => this.dedupe.keyed(input))) return this.appender.appendMany(inputs);
    const subject = inputs[0]?.subject;
    const other = inputs.find((input) => input.subject !== subject);
    if (other !== undefined) {
      const message = `appendMany appends to one subject: got "${subject ?? ''}" and "${other.subject}"`;
      return Promise.reject(new InvalidArgumentError('subject', message));
    }
    return this.appendBatch(inputs);
  }

  appendBatch(inputs: readonly AppendInput[]): Promise<number[]> {
    if (inputs.length === 0) return Promise.resolve([]);
    const refused = this.commit.refusal();
    if (refused !== undefined) return Promise.reject(refused);
    // Keys are taken at the call, so a concurrent call with one of them waits for this call's id.
    const plans = this.dedupe.plan(inputs);
    const ids = this.write(inputs, plans);
    this.dedupe.hold(plans, ids);
    return ids;
  }

  private async write(inputs: readonly AppendInput[], plans: readonly KeyPlan[]): Promise<number[]> {
    const ids = new Array<number | undefined>(inputs.length).fill(undefined);
    await Promise.all(
      plans.map(async (plan, i) => {
        if (plan.kind === 'other') ids[i] = await plan.id;
      }),
    );
    const { appends, states, at } = await this.assign(inputs, plans, ids);
    const offsets = await Promise.all(appends);
    offsets.forEach((offset, i) => {
      const input = inputs[i];
      if (offset === undefined || input === undefined) return;
      ids[i] = offset;
      const state = states.get(input.subject);
      if (plans[i]?.kind === 'owner' && this.dedupe.keyed(input) && state !== undefined)
        this.dedupe.remember(state, input.key, { offset, publishedAtMs: at });
    });
    plans.forEach((plan, i) => {
      if (plan.kind === 'same') ids[i] = ids[plan.index];
    });
    return ids.map((id, i) => id ?? lost(i));
  }

  /** Loads every subject, looks the keys up, then appends what is new into the batch being built, all at once. */
  private async assign(
    inputs: readonly AppendInput[],
    plans: readonly KeyPlan[],
    ids: Array<number | undefined>,
  ): Promise<Assigned> {
    const subjects = [...new Set(inputs.map((input) => input.subject))];
    // Accepted now, written later: close() waits for it.
    this.commit.admit();
    let joined = false;
    try {
      for (;;) {
        const states = await this.acquireAll(subjects);
        try {
          const found = await this.dedupe.find(inputs, plans, states);
          const refused = this.commit.refusal();
          if (refused !== undefined) throw refused;
          // A failed write drops every state while this waited: offsets come from states loaded after it.
          if ([...states.values()].some((s) => this.subjects.peek(s.subject) !== s)) continue;
          const at = this.now();
          const appends = this.appendNow(inputs, plans, ids, found, states, at);
          joined = appends.some((a) => a !== undefined);
          return { appends, states, at };
        } finally {
          for (const state of states.values()) this.subjects.release(state);
        }
      }
    } finally {
      this.commit.settleAdmitted(joined);
    }
  }

  /** Synchronous: every offset of the call is assigned in one go, so they share one group-commit batch. */
  private appendNow(
    inputs: readonly AppendInput[],
    plans: readonly KeyPlan[],
    ids: Array<number | undefined>,
    found: ReadonlyArray<number | undefined>,
    states: ReadonlyMap<string, SubjectState>,
    at: number,
  ): Array<Promise<number> | undefined> {
    const appending = (i: number): boolean => {
      const plan = plans[i];
      return plan !== undefined && plan.kind !== 'other' && plan.kind !== 'same' && found[i] === undefined;
    };
    // The storage limits judge the whole call before any offset is taken: all of it is appended, or none.
    const bytes = new Map<SubjectState, number>();
    inputs.forEach((input, i) => {
      const state = states.get(input.subject);
      if (state !== undefined && appending(i)) bytes.set(state, (bytes.get(state) ?? 0) + input.body.length);
    });
    const full = this.appender.admitAll(bytes);
    if (full !== undefined) throw full;
    return inputs.map((input, i) => {
      const plan = plans[i];
      if (plan === undefined || plan.kind === 'other' || plan.kind === 'same') return undefined;
      const known = found[i];
      if (known !== undefined) {
        ids[i] = known;
        return undefined;
      }
      const state = states.get(input.subject) ?? lost(i);
      const offset = state.nextOffset;
      const appended = this.appender.appendLoaded(state, input, true);
      // Only an append that took its offset names it (a refused one assigns none).
      if (plan.kind === 'owner' && this.dedupe.keyed(input) && state.nextOffset === offset + 1)
        this.dedupe.stage(state, input.key, offset, at);
      return appended;
    });
  }

  /** Every subject's state, pinned; all or none (a failed load releases the others). */
  private async acquireAll(subjects: readonly string[]): Promise<Map<string, SubjectState>> {
    const settled = await Promise.allSettled(subjects.map((subject) => this.subjects.acquire(subject)));
    const states = new Map<string, SubjectState>();
    let failure: { err: unknown } | undefined;
    for (const result of settled) {
      if (result.status === 'fulfilled') states.set(result.value.subject, result.value);
      else failure ??= { err: result.reason };
    }
    if (failure === undefined) return states;
    for (const state of states.values()) this.subjects.release(state);
    throw failure.err;
  }
}

function lost(index: number): never {
  throw new InvariantError(`an atomic append lost the offset of input ${index}`);
}
