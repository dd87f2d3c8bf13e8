import type { QuotaLimit } from './token-bucket.js';

/** The part of a client stream pacing needs (grpc-js's ServerDuplexStream has it). */
export interface ReadableCall {
  pause(): unknown;
  resume(): unknown;
}

/**
 * Paces a PublishStream to its identity's publish quota as flow control would: a request over the quota has
 * arrived, so it is taken (the quota goes into debt by it), and the stream reads nothing more until the debt is paid
 * off; the client's writes then wait on HTTP/2 flow control. The session pauses and resumes the same stream for its
 * own reasons (in-flight bound, publish budget), so reading resumes only when neither it nor the quota holds it.
 */
export class PacedReads {
  private heldByQuota = false;
  private heldBySession = false;
  private readonly pause: () => unknown;
  private readonly resume: () => unknown;

  constructor(
    call: ReadableCall,
    private readonly limit: QuotaLimit,
  ) {
    this.pause = call.pause.bind(call);
    this.resume = call.resume.bind(call);
    call.pause = () => {
      this.heldBySession = true;
      return this.pause();
    };
    call.resume = () => {
      this.heldBySession = false;
      return this.heldByQuota ? call : this.resume();
    };
  }

  /** Takes one message of `bytes` from the quota; past it, reading stops until the quota has room again. */
  take(bytes: number): void {
    if (this.limit.tryTake(1, bytes) === 0) return;
    this.limit.takeAnyway(1, bytes);
    if (this.heldByQuota) return;
    this.heldByQuota = true;
    this.pause();
    this.limit.whenRoom(() => {
      this.heldByQuota = false;
      if (!this.heldBySession) this.resume();
    });
  }
}
