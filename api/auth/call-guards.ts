import type { ServerUnaryCall } from '@grpc/grpc-js';
import type { ListSubjectsResponse } from '../../proto/gen/broker.js';
import { RequestGuard } from '../grpc/validate.js';
import type { AccessControl } from './access-control.js';
import { CallerGuard } from './caller-guard.js';
import { PacedReads, type ReadableCall } from './paced-reads.js';
import { paceWrites } from './paced-writes.js';

/** What identifies a call's caller: its metadata and its connection (the client certificate under mTLS). */
export type AuthenticatedCall = Pick<ServerUnaryCall<unknown, unknown>, 'metadata' | 'getAuthContext'>;

/**
 * The guard each call of the service goes through: the shared one without BROKER_AUTH_FILE (no extra work on the
 * embedded default), else one per call that also holds the call to its caller's rules and quotas.
 */
export class CallGuards {
  constructor(
    private readonly shared: RequestGuard,
    private readonly maxBodyBytes: number,
    private readonly access: AccessControl | undefined,
  ) {}

  /** The call's guard; with an auth file, after authenticating its caller (UNAUTHENTICATED when nobody it knows). */
  of(call: AuthenticatedCall, method: string): RequestGuard | Promise<RequestGuard> {
    if (this.access === undefined) return this.shared;
    return this.access
      .caller(call.metadata, () => call.getAuthContext(), method)
      .then((caller) => new CallerGuard(this.maxBodyBytes, this.shared.maxResponseBytes, caller));
  }

  /** ListSubjects shows a caller only the subjects it may subscribe to or administer. */
  static async visible(guard: RequestGuard, page: Promise<ListSubjectsResponse>): Promise<ListSubjectsResponse> {
    const response = await page;
    if (!(guard instanceof CallerGuard)) return response;
    // The page token stays the unfiltered page's: the next page continues after it, so a page may hold fewer.
    return { ...response, subjects: response.subjects.filter((s) => guard.caller.mayList(s.subject)) };
  }

  /** The guard of a PublishStream: with a publish quota, one that slows the stream to it instead of refusing. */
  pacedPublishes(guard: RequestGuard, call: ReadableCall): RequestGuard {
    const limit = guard instanceof CallerGuard ? guard.caller.publishLimit : undefined;
    if (!(guard instanceof CallerGuard) || limit === undefined) return guard;
    return new CallerGuard(this.maxBodyBytes, this.shared.maxResponseBytes, guard.caller, new PacedReads(call, limit));
  }

  /** A Subscribe stream of a caller with a delivery quota is paced to it. */
  static paced<C extends Parameters<typeof paceWrites>[0]>(guard: RequestGuard, call: C): C {
    const limit = guard instanceof CallerGuard ? guard.caller.deliveryLimit : undefined;
    if (limit !== undefined) paceWrites(call, limit);
    return call;
  }
}
