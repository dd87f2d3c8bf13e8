import type {
  FetchRangeRequest,
  FetchRangeResponse,
  FetchRequest,
  GetSubjectRequest,
  ListSubjectsRequest,
  ListSubjectsResponse,
  MessageResponse,
  SubjectInfo,
} from '../../proto/gen/broker.js';

/**
 * Another worker of this broker, seen from one that received a call for a subject it does not own. Each call is the
 * owner's own answer; a failure rejects with the BrokerError the owner answered (same status, reason and message).
 */
export interface OwnerPeer {
  readonly name: string;
  fetch(request: FetchRequest): Promise<MessageResponse>;
  fetchRange(request: FetchRangeRequest, signal: AbortSignal): Promise<FetchRangeResponse>;
  getSubject(request: GetSubjectRequest): Promise<SubjectInfo>;
  listSubjects(request: ListSubjectsRequest, signal: AbortSignal): Promise<ListSubjectsResponse>;
}

/** Where a call goes when the broker runs several workers (api/workers); absent, every subject is local. */
export interface RequestRouter {
  /** The worker that owns the subject's partition, or undefined when it is this one. */
  peerFor(subject: string): OwnerPeer | undefined;
  /** Every other worker: ListSubjects asks them all. */
  others(): readonly OwnerPeer[];
}
