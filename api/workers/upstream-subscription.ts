import { status, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { BrokerError, InvariantError, type LogRecord } from '../../core/index.js';
import type { MessageResponse } from '../../proto/gen/broker.js';
import { statusDetails } from '../grpc/status.js';
import { peerName, forwardedCall, type OwnerClientFor } from './owner-calls.js';
import { ReconnectBackoff } from './reconnect-backoff.js';
import { fromServiceError } from './remote-error.js';
import type { UpstreamLogger } from './upstream-options.js';
import { toLogRecord } from './wire-record.js';

export interface UpstreamSubscriptionDeps {
  readonly subject: string;
  readonly clientFor: OwnerClientFor;
  /** The id to subscribe from at each (re)connect: the one after the last record received. */
  readonly resumeFrom: () => number;
  readonly onRecord: (record: LogRecord) => void;
  /** The owner refused the subscription for good (e.g. INVALID_ID: its ids went backwards). */
  readonly onFatal: (err: Error) => void;
  readonly onReconnect: () => void;
  readonly backoff: ReconnectBackoff;
  readonly logger: UpstreamLogger;
}

/**
 * One Subscribe stream to the worker that owns a subject, reopened at the next id whenever the owner goes away
 * (restarting, draining, or ending the stream as a slow consumer), so what it delivers has no gap and no duplicate
 * across reconnects. Messages of a stream it has given up on are ignored: the next stream delivers them again.
 */
export class UpstreamSubscription {
  private call: ClientReadableStream<MessageResponse> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly deps: UpstreamSubscriptionDeps) {}

  start(): void {
    this.connect();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    const call = this.call;
    this.call = undefined;
    call?.cancel();
  }

  private connect(): void {
    this.timer = undefined;
    if (this.closed) return;
    const { subject } = this.deps;
    let call: ClientReadableStream<MessageResponse>;
    let peer: string;
    try {
      const client = this.deps.clientFor(subject);
      peer = peerName(client);
      call = client.subscribe({ subject, fromId: this.deps.resumeFrom() }, forwardedCall());
    } catch (err) {
      this.deps.onFatal(
        err instanceof BrokerError ? err : new InvariantError(`no route to the owner of "${subject}"`, { cause: err }),
      );
      return;
    }
    this.call = call;
    let established = false;
    // Headers: the owner's subscription is in place, so the owner is back; a later failure starts the backoff anew.
    call.on('metadata', () => {
      established = true;
      this.deps.backoff.reset();
    });
    call.on('data', (message: MessageResponse) => {
      if (call === this.call) this.deps.onRecord(toLogRecord(message));
    });
    call.on('error', (err: ServiceError) => this.ended(call, { peer, established, err }));
    // An OK status: the owner ended the stream without an error (its log closed): it is going away, so resume.
    call.on('end', () => this.ended(call, { peer, established, err: undefined }));
  }

  private ended(
    call: ClientReadableStream<MessageResponse>,
    how: { peer: string; established: boolean; err: ServiceError | undefined },
  ): void {
    if (call !== this.call || this.closed) return;
    this.call = undefined;
    const mapped = how.err === undefined ? undefined : fromServiceError(how.err, how.peer);
    if (how.err !== undefined && mapped !== undefined && !resumable(how.err, mapped)) {
      this.deps.onFatal(mapped);
      return;
    }
    const wait = this.deps.backoff.next();
    // One line per outage, not per attempt: a restarting owner would otherwise log every retry of every subject.
    if (how.established) {
      const detail = { subject: this.deps.subject, peer: how.peer, resumeFrom: this.deps.resumeFrom() };
      this.deps.logger.warn(
        { ...detail, err: how.err?.details ?? 'stream ended' },
        'upstream subscription lost; resuming',
      );
    }
    this.deps.onReconnect();
    this.timer = setTimeout(() => this.connect(), wait);
  }
}

/**
 * Whether the stream may be reopened at the next id: the owner went away (UNAVAILABLE, a dropped connection), or
 * ended it with a retriable reason (SLOW_CONSUMER, OVERLOADED, NOT_OWNER after a route change), or reset it (a
 * RESOURCE_EXHAUSTED or INTERNAL with no broker reason is HTTP/2's, not the owner's judgement). Anything else the
 * owner meant, and every local cursor of the subject ends with it.
 */
function resumable(err: ServiceError, mapped: Error): boolean {
  // UNAVAILABLE said by the owner itself because its log refuses writes (or its cold tier is away) ends the local
  // subscribers as it would end them on the owner: they resume with from_id, as README's failure table says. An
  // owner going away (its shutdown, or a dropped connection: a worker that died) is resumed here at the next id.
  if (mapped instanceof BrokerError && mapped.reason === 'UNAVAILABLE' && saidByOwner(err)) {
    return mapped.metadata.shutdown === 'true' || mapped.metadata.moved === 'true';
  }
  if (mapped instanceof BrokerError) return mapped.retriable;
  return err.code === status.RESOURCE_EXHAUSTED || err.code === status.INTERNAL || err.code === status.CANCELLED;
}

/** The status carries a google.rpc.Status with the owner's ErrorInfo, not just grpc-js's code and text. */
function saidByOwner(err: ServiceError): boolean {
  return statusDetails(err.metadata) !== undefined;
}
