import { FORWARDED_HEADER } from '../grpc/forwarded-dispatch.js';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { setTimeout as sleep } from 'node:timers/promises';
import { BrokerError } from '../../core/index.js';
import type { BrokerClient, FetchRangeResponse } from '../../proto/gen/broker.js';
import { ReconnectBackoff } from './reconnect-backoff.js';
import { fromServiceError } from './remote-error.js';

/** A subject's ids on its owner: the first retained and the last assigned (0: never published). */
export interface SubjectBounds {
  readonly firstId: number;
  readonly lastId: number;
}

/** Finds the client connected to the worker that owns a subject. */
export type OwnerClientFor = (subject: string) => BrokerClient;

/** The unary calls an upstream hub makes to a subject's owner, each waiting for the owner (it may be restarting). */
export class OwnerCalls {
  constructor(
    private readonly clientFor: OwnerClientFor,
    private readonly timeoutMs: number,
    private readonly backoff: { readonly initialMs: number; readonly maxMs: number },
  ) {}

  /** The subject's bounds on its owner (GetSubject); a subject never published to has none yet: 1 and 0. */
  async bounds(subject: string): Promise<SubjectBounds> {
    const client = this.clientFor(subject);
    return new Promise<SubjectBounds>((resolve, reject) => {
      client.getSubject({ subject }, forwardedCall(), this.deadline(), (err, info) => {
        if (err === null) resolve({ firstId: info.firstId, lastId: info.lastId });
        else if (err.code === status.NOT_FOUND) resolve({ firstId: 1, lastId: 0 });
        else reject(fromServiceError(err, peerName(client)));
      });
    });
  }

  /**
   * One FetchRange page from `fromId`. While the owner is unreachable it retries (capped backoff), so a cursor
   * replaying through an owner restart resumes where it was; undefined once `signal` aborts (the cursor closed).
   */
  async page(
    subject: string,
    fromId: number,
    maxMessages: number,
    signal: AbortSignal,
  ): Promise<FetchRangeResponse | undefined> {
    const backoff = new ReconnectBackoff(this.backoff.initialMs, this.backoff.maxMs);
    while (!signal.aborted) {
      try {
        return await this.fetchRange(subject, fromId, maxMessages, signal);
      } catch (err) {
        if (signal.aborted) return undefined;
        // UNAVAILABLE (restarting), NOT_OWNER (a route being updated), OVERLOADED: the same page, a little later.
        if (!(err instanceof BrokerError && err.retriable)) throw err;
      }
      await sleep(backoff.next(), undefined, { signal }).catch(() => undefined);
    }
    return undefined;
  }

  private fetchRange(
    subject: string,
    fromId: number,
    maxMessages: number,
    signal: AbortSignal,
  ): Promise<FetchRangeResponse> {
    const client = this.clientFor(subject);
    return new Promise<FetchRangeResponse>((resolve, reject) => {
      const request = { subject, fromId, maxMessages, maxBytes: 0 };
      const call = client.fetchRange(request, forwardedCall(), this.deadline(), (err: ServiceError | null, page) => {
        signal.removeEventListener('abort', cancel);
        if (err === null) resolve(page);
        else reject(fromServiceError(err, peerName(client)));
      });
      const cancel = (): void => call.cancel();
      signal.addEventListener('abort', cancel, { once: true });
    });
  }

  private deadline(): { deadline: number } {
    return { deadline: Date.now() + this.timeoutMs };
  }
}

/**
 * The metadata of every call forwarded to an owner: it waits for the owner's socket (a restarting worker) instead of
 * failing at once, and is marked forwarded, so the owner answers from its own partitions and never forwards it on.
 */
export function forwardedCall(): Metadata {
  const metadata = new Metadata();
  metadata.set(FORWARDED_HEADER, '1');
  metadata.setOptions({ waitForReady: true });
  return metadata;
}

/** The owner as errors name it: its address (`unix:/…/w1.sock`). */
export function peerName(client: BrokerClient): string {
  return `the worker at ${client.getChannel().getTarget()}`;
}
