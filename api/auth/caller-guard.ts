import type { AppendInput } from '../../core/index.js';
import type {
  FetchRangeRequest,
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
    if (this.pacer !== undefined) this.pacer.take(input.body.length);
    else this.caller.admitPublish(1, input.body.length, input.subject);
    return input;
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
