import {
  InvalidArgumentError,
  type StorageFullError,
  type AppendInput,
  type LogRecord,
  type LogWriter,
} from '../core/index.js';
import type { Tracing } from '../core/index.js';
import { RECORD_HEADER_BYTES, encodeRecordValue } from './codec.js';
import { inCallerContext } from './commit-span.js';
import type { GroupCommit } from './group-commit.js';
import { offsetKey } from './keys.js';
import type { SegmentRoller } from './segment-roller.js';
import type { StorageLimits } from './storage-limits.js';
import type { SubjectCache } from './subject-cache.js';
import type { SubjectState } from './subject-state.js';

/**
 * The write side: assigns offsets in memory at the call, so concurrent appends to a subject get consecutive offsets
 * in call order, and hands each record to the group commit. Appends to a subject whose state is not in memory wait
 * for it in a queue drained in call order the moment it loads.
 */
export class Appender implements Pick<LogWriter, 'append' | 'appendMany'> {
  constructor(
    private readonly subjects: SubjectCache,
    private readonly commit: GroupCommit,
    private readonly roller: SegmentRoller,
    private readonly now: () => number,
    private readonly limits: StorageLimits,
    /** Appends waiting for their subject keep their call's trace context (commit-span.ts). @defaultValue off */
    private readonly tracing?: Tracing,
  ) {}

  append(input: AppendInput): Promise<number> {
    const refused = this.commit.refusal();
    if (refused !== undefined) return Promise.reject(refused);
    const cached = this.subjects.cached(input.subject);
    if (cached !== undefined) return this.appendTo(cached, input);
    return new Promise<number>((resolve, reject) => {
      this.queueForLoad(input.subject, (state) => this.appendTo(state, input).then(resolve, reject), reject);
    });
  }

  appendMany(inputs: readonly AppendInput[]): Promise<number[]> {
    const first = inputs[0];
    if (first === undefined) return Promise.resolve([]);
    const refused = this.commit.refusal();
    if (refused !== undefined) return Promise.reject(refused);
    const subject = first.subject;
    const other = inputs.find((input) => input.subject !== subject);
    if (other !== undefined) {
      return Promise.reject(
        new InvalidArgumentError(
          'subject',
          `appendMany appends to one subject: got "${subject}" and "${other.subject}"`,
        ),
      );
    }
    const cached = this.subjects.cached(subject);
    // Synchronous from here: the offsets are consecutive and land in one batch.
    if (cached !== undefined) return this.appendAll(cached, inputs);
    return new Promise<number[]>((resolve, reject) => {
      this.queueForLoad(subject, (state) => this.appendAll(state, inputs).then(resolve, reject), reject);
    });
  }

  private appendAll(state: SubjectState, inputs: readonly AppendInput[]): Promise<number[]> {
    if (this.commit.failed) return Promise.reject(this.commit.refusal());
    // A new subject is counted (or refused by BROKER_MAX_SUBJECTS) before any other limit reserves anything for it.
    const tooMany = this.subjects.admit(state);
    if (tooMany !== undefined) return Promise.reject(tooMany);
    // The storage limits judge the batch as a whole: all of it is appended, or none.
    let bytes = 0;
    for (const input of inputs) bytes += input.body.length;
    const full = this.limits.admit(state, bytes);
    if (full !== undefined) return Promise.reject(full);
    return Promise.all(inputs.map((input) => this.appendTo(state, input, true)));
  }

  /**
   * Waits for the subject's state to load; `assign` runs as soon as it has, before any later call can see the
   * state, so offsets follow call order. Accepted now, written later: close() waits for it.
   */
  private queueForLoad(subject: string, assign: (state: SubjectState) => void, reject: (err: unknown) => void): void {
    this.commit.admit();
    const assignLater = inCallerContext(this.tracing, assign);
    this.subjects.whenLoaded(subject, {
      loaded: (state) => {
        this.commit.settleAdmitted(true);
        assignLater(state);
      },
      failed: (err) => {
        reject(err);
        this.commit.settleAdmitted(false);
      },
    });
  }

  /**
   * Appends to a state already in memory, synchronously into the batch being built: the atomic multi-subject path
   * (batch-appender.ts) assigns every offset of a call in one go with it.
   */
  appendLoaded(state: SubjectState, input: AppendInput, admitted = false): Promise<number> {
    return this.appendTo(state, input, admitted);
  }

  /** The storage limits judge a multi-subject batch as a whole (bytes per state); then appendLoaded(…, true). */
  admitAll(parts: ReadonlyMap<SubjectState, number>): StorageFullError | undefined {
    return this.limits.admitAll(parts);
  }

  /**
   * The hot path: assigns the offset, accounts the record in its segment, encodes it with its checksum (the body is
   * copied once, into the value) and puts it in the batch.
   */
  private appendTo(state: SubjectState, input: AppendInput, admitted = false): Promise<number> {
    if (this.commit.failed) return Promise.reject(this.commit.refusal());
    const tooMany = this.subjects.admit(state);
    if (tooMany !== undefined) return Promise.reject(tooMany);
    if (!admitted) {
      const full = this.limits.admit(state, input.body.length);
      if (full !== undefined) return Promise.reject(full);
    }
    const publishedAtMs = this.now();
    const offset = state.nextOffset;
    const segment = this.roller.segmentFor(state, offset, input.body.length, publishedAtMs);
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
    const key = offsetKey(state.recordPrefix, offset);
    const value = encodeRecordValue(key, publishedAtMs, input.expirationSeconds, input.body);
    const record: LogRecord = {
      subject: state.subject,
      offset,
      publishedAtMs,
      expirationSeconds: input.expirationSeconds,
      body: value.subarray(RECORD_HEADER_BYTES),
    };
    return this.commit.add(state, segment, key, value, record);
  }
}
