import type { AppendInput } from '../../core/index.js';
import type {
  FetchRangeRequest,
  PublishBatchRequest,
  FetchRequest,
  GetSubjectRequest,
  PublishRequest,
  SubscribeRequest,
} from '../../proto/gen/broker.js';
import { RequestGuard } from '../grpc/validate.js';
import type { Caller } from './caller.js';
import type { PacedReads } from './paced-reads.js';

/**
 * The request guard of one authenticated call: the shared checks first (a malformed request is INVALID_ARGUMENT
 * whoever sends it), then the caller's rules on the validated subject, then its publish quota. Each entry point
 * of the service, the streams' sessions included, already goes through its guard before any work, so a refused
 * request appends or reads nothing (a PublishStream ends after acknowledging every earlier request). A PublishStream's
 * guard has a pacer: over the publish quota its stream is slowed (PacedReads) instead of refused QUOTA_EXCEEDED.
 */
export class CallerGuard extends RequestGuard {
  /** A batch's messages are checked one by one (through publish) and admitted to the quota together. */
  private inBatch = false;
  constructor(
    maxBodyBytes: number,
    maxResponseBytes: number,
    readonly caller: Caller,
    private readonly pacer?: PacedReads,
  ) {
    super(maxBodyBytes, maxResponseBytes);
  }

  /** Also each message of a PublishBatch (RequestGuard.publishBatch checks them through this). */
  override publish(req: PublishRequest): AppendInput {
    const input = super.publish(req);
    this.caller.authorize('publish', input.subject);
    if (this.inBatch) return input;
    if (this.pacer !== undefined) this.pacer.take(input.body.length);
    else this.caller.admitPublish(1, input.body.length, input.subject);
    return input;
  }

  /**
   * A batch takes its messages from the quota at once: taken one by one, a batch larger than what is at hand spent
   * the tokens of its first messages on every attempt and was refused again and again.
   */
  override publishBatch(req: PublishBatchRequest): AppendInput[] {
    this.inBatch = true;
    let inputs: AppendInput[];
    try {
      inputs = super.publishBatch(req);
    } finally {
      this.inBatch = false;
    }
    const bytes = inputs.reduce((sum, input) => sum + input.body.length, 0);
    this.caller.admitPublish(inputs.length, bytes, inputs[0]?.subject ?? '');
    return inputs;
  }

  override fetch(req: FetchRequest): { subject: string; id: number } {
    const checked = super.fetch(req);
    this.caller.authorize('subscribe', checked.subject);
    return checked;
  }

  override fetchRange(req: FetchRangeRequest): ReturnType<RequestGuard['fetchRange']> {
    const checked = super.fetchRange(req);
    this.caller.authorize('subscribe', checked.subject);
    return checked;
  }

  override subscribe(req: SubscribeRequest): ReturnType<RequestGuard['subscribe']> {
    const checked = super.subscribe(req);
    this.caller.authorize('subscribe', checked.subject);
    return checked;
  }

  override getSubject(req: GetSubjectRequest): { subject: string } {
    const checked = super.getSubject(req);
    this.caller.authorize('admin', checked.subject);
    return checked;
  }
}
