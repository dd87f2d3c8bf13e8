import type { ServiceError } from '@grpc/grpc-js';
import type { AppendInput, TraceLink, Tracing } from '../../core/index.js';
import type { PublishRequest } from '../../proto/gen/broker.js';
import type { AppendResponse, ForwardingClient } from '../../proto/gen/internal.js';
import { forwardedCall } from './owner-calls.js';
import { fromServiceError, fromStatus } from './remote-error.js';

export interface PublishForwarderOptions {
  /** Publishes per forwarded batch. @defaultValue 1024 */
  readonly maxBatchRecords?: number;
  /** Body bytes per forwarded batch (one more entry always fits). @defaultValue 4 MiB */
  readonly maxBatchBytes?: number;
  /** How long a batch may wait for its owner (restarting after a crash, say) before its publishes fail. @defaultValue 15 s */
  readonly deadlineMs?: number;
  /** Counts each batch sent and the publishes it carried. */
  readonly onBatch?: (records: number) => void;
  /** With tracing on, a batch is sent in the context of its first traced publish (its span's child). */
  readonly tracing?: Tracing | undefined;
}

/** An append as the PublishRequest the owner validates and appends again (the body's bytes are not copied). */
export function toPublishRequest(input: AppendInput): PublishRequest {
  return {
    subject: input.subject,
    body: Buffer.from(input.body.buffer, input.body.byteOffset, input.body.byteLength),
    expirationSeconds: input.expirationSeconds,
    idempotencyKey: input.key ?? '',
  };
}

interface Pending {
  readonly request: PublishRequest;
  readonly bytes: number;
  readonly link: TraceLink | undefined;
  /** When this publish stops waiting for its owner, ms since the epoch; undefined: deadlineMs after its send. */
  readonly deadline: number | undefined;
  resolve(id: number): void;
  reject(err: unknown): void;
}

/**
 * Publishes for partitions another worker owns, sent to it over its socket in batches: while one batch is out, the
 * next gathers, so under load a forwarded publish costs the owner a share of one call (the PublishBatch price), not a
 * call of its own. One batch at a time keeps the order of publishes to one subject (the owner appends each batch's
 * entries in order); each entry is acknowledged or refused on its own.
 */
export class PublishForwarder {
  private queue: Pending[] = [];
  private sending = false;
  private scheduled = false;
  private readonly maxRecords: number;
  private readonly maxBytes: number;
  private readonly deadlineMs: number;

  constructor(
    private readonly client: ForwardingClient,
    /** The owner's name, for errors. */
    private readonly peer: string,
    private readonly options: PublishForwarderOptions = {},
  ) {
    this.maxRecords = options.maxBatchRecords ?? 1024;
    this.maxBytes = options.maxBatchBytes ?? 4 * 1024 * 1024;
    this.deadlineMs = options.deadlineMs ?? 15_000;
  }

  /**
   * `deadline` (ms since the epoch) shortens the publish's wait for its owner (OwnerMoves.answerBy); its batch is
   * sent with the earliest deadline of its publishes.
   */
  append(input: AppendInput, deadline?: number): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const link = this.options.tracing?.capture();
      const request = toPublishRequest(input);
      this.queue.push({ request, bytes: input.body.byteLength, link, deadline, resolve, reject });
      this.schedule();
    });
  }

  /** Sends at the end of this turn, so the publishes of one turn travel together. */
  private schedule(): void {
    if (this.sending || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.sendNext();
    });
  }

  private sendNext(): void {
    if (this.sending || this.queue.length === 0) return;
    const batch = this.takeBatch();
    this.sending = true;
    this.options.onBatch?.(batch.length);
    const tracing = this.options.tracing;
    if (tracing === undefined) this.send(batch);
    else tracing.resume(batch.find((p) => p.link !== undefined)?.link, () => this.send(batch));
  }

  private send(batch: Pending[]): void {
    this.client.append(
      { messages: batch.map((p) => p.request) },
      forwardedCall(),
      { deadline: this.deadlineOf(batch) },
      (err: ServiceError | null, response: AppendResponse | undefined) => {
        this.sending = false;
        this.settle(batch, err, response);
        this.schedule();
      },
    );
  }

  private deadlineOf(batch: readonly Pending[]): number {
    let by = Date.now() + this.deadlineMs;
    for (const p of batch) if (p.deadline !== undefined && p.deadline < by) by = p.deadline;
    return by;
  }

  private takeBatch(): Pending[] {
    let bytes = 0;
    let n = 0;
    for (const p of this.queue) {
      if (n > 0 && (n >= this.maxRecords || bytes + p.bytes > this.maxBytes)) break;
      bytes += p.bytes;
      n += 1;
    }
    return this.queue.splice(0, n);
  }

  private settle(batch: Pending[], err: ServiceError | null, response: AppendResponse | undefined): void {
    if (err !== null || response === undefined || response.results.length !== batch.length) {
      const failure =
        err !== null
          ? fromServiceError(err, this.peer)
          : new Error(`${this.peer} answered ${response?.results.length ?? 0} results for ${batch.length} publishes`);
      for (const p of batch) p.reject(failure);
      return;
    }
    batch.forEach((p, i) => {
      const result = response.results[i];
      if (result?.error !== undefined) p.reject(fromStatus(result.error, this.peer));
      else p.resolve(result?.id ?? 0);
    });
  }
}
