import {
  BrokerError,
  UnavailableError,
  type AppendInput,
  type LogReader,
  type LogRecord,
  type LogWriter,
  type LookupResult,
  type ReadLimits,
  type SubjectInfo,
  type SubjectQuery,
  type TailCursor,
} from '../../core/index.js';
import type {
  FetchRangeRequest,
  FetchRangeResponse,
  FetchRequest,
  GetSubjectRequest,
  ListSubjectsRequest,
  ListSubjectsResponse,
  MessageResponse,
  SubjectInfo as ProtoSubjectInfo,
} from '../../proto/gen/broker.js';
import type { OwnerPeer, RequestRouter } from '../grpc/request-router.js';
import type { WorkerPeer } from './worker-peer.js';
import type { Owners } from './owners.js';
import { neverSent } from './remote-error.js';

/** Opens tail cursors on subjects other workers own (the upstream hub). */
export interface RemoteTails {
  tail(subject: string, from: number | 'live'): Promise<TailCursor>;
}

/**
 * The log as one process's service sees it when it is one of several (workers of a broker, or members of a
 * cluster): its own partitions in the local log, every other subject at its owner. Publishes travel through the
 * owner's forwarder (batched); tails through one shared upstream subscription per subject; reads of other owners'
 * subjects never reach here (the service forwards those calls whole, see RequestRouter), so the read methods are the
 * local log's.
 */
export class WorkerRouting implements LogWriter, LogReader, RequestRouter {
  constructor(
    private readonly owners: Owners,
    private readonly local: { readonly writer: LogWriter; readonly reader: LogReader },
    private readonly remoteTails: RemoteTails,
  ) {}

  peerFor(subject: string): OwnerPeer | undefined {
    let peer: WorkerPeer | undefined;
    try {
      peer = this.owners.peerOf(subject);
    } catch (err) {
      // Nobody owns it this moment: a cluster's read waits for the next owner (a ReroutingPeer with no first try).
      if (this.owners.moves === undefined) throw err;
      return new ReroutingPeer(undefined, this.owners, subject, err);
    }
    return peer === undefined ? undefined : new ReroutingPeer(peer, this.owners, subject);
  }

  others(): readonly OwnerPeer[] {
    return this.owners.others();
  }

  append(input: AppendInput): Promise<number> {
    let peer: WorkerPeer | undefined;
    try {
      peer = this.owners.peerOf(input.subject);
    } catch (err) {
      if (this.owners.moves === undefined) return Promise.reject(err);
      const at = (to: WorkerPeer | 'local', by?: number): Promise<number> => this.appendAt(to, input, by);
      return held(this.owners, input.subject, undefined, at, refusedBeforeAppend, err);
    }
    if (peer === undefined) return this.local.writer.append(input);
    const at = (to: WorkerPeer | 'local', by?: number): Promise<number> => this.appendAt(to, input, by);
    return held(this.owners, input.subject, peer, at, refusedBeforeAppend);
  }

  private appendAt(to: WorkerPeer | 'local', input: AppendInput, deadline?: number): Promise<number> {
    return to === 'local' ? this.local.writer.append(input) : to.publishes.append(input, deadline);
  }

  appendMany(inputs: readonly AppendInput[]): Promise<number[]> {
    return this.appendBatch(inputs);
  }

  /**
   * Atomic per owner: the inputs of each owner go to it as one PublishBatch (atomic there per partition). A batch
   * spanning owners can be partly written if one owner fails; the README says so.
   */
  async appendBatch(inputs: readonly AppendInput[]): Promise<number[]> {
    const byOwner = new Map<WorkerPeer | undefined, number[]>();
    inputs.forEach((input, i) => {
      const owner = this.owners.peerOf(input.subject);
      const positions = byOwner.get(owner) ?? [];
      positions.push(i);
      byOwner.set(owner, positions);
    });
    const ids = new Array<number>(inputs.length).fill(0);
    await Promise.all(
      [...byOwner].map(async ([owner, positions]) => {
        const part = positions.map((i) => inputs[i] as AppendInput);
        const got = owner === undefined ? await this.local.writer.appendBatch(part) : await owner.publishBatch(part);
        positions.forEach((i, k) => (ids[i] = got[k] ?? 0));
      }),
    );
    return ids;
  }

  get(subject: string, offset: number): Promise<LookupResult> {
    return this.local.reader.get(subject, offset);
  }

  readRange(subject: string, fromOffset: number, limits: ReadLimits): Promise<LogRecord[]> {
    return this.local.reader.readRange(subject, fromOffset, limits);
  }

  async tail(subject: string, from: number | 'live'): Promise<TailCursor> {
    const peer = this.owners.peerOf(subject);
    if (peer === undefined) return this.local.reader.tail(subject, from);
    // Opening asks the owner for the subject's bounds: an owner that has just given the partition up says NOT_OWNER.
    return this.remoteTails.tail(subject, from).catch((err: unknown) => Promise.reject(retriable(err)));
  }

  subjectInfo(subject: string): Promise<SubjectInfo | undefined> {
    return this.local.reader.subjectInfo(subject);
  }

  listSubjects(query: SubjectQuery): Promise<SubjectInfo[]> {
    return this.local.reader.listSubjects(query);
  }
}

const RETRY_EVERY_MS = 50;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A forwarded call whose owner turns out not to own the partition (a view one round old, while partitions move) is
 * made once more at the owner it names. In a cluster (owners.moves) a call that was refused before anything was
 * appended (`safe`), or found no owner, is then held: every 50 ms the owners are read again and the call is tried
 * at the owner they name now (or the member placed to take it), until `moves.waitMs` has passed. What remains
 * reaches the client as UNAVAILABLE, retriable: NOT_OWNER is for forwarders, clients never see it.
 *
 * Each attempt at an owner waits for it only until shortly after the lease its row holds (moves.answerBy): an owner
 * frozen past its lease (a GC pause, SIGSTOP, a partitioned network) is replaced then, and a call waiting on it would
 * hang for its whole deadline. A read cut so is held half a lease more for the next owner; a publish is not `safe`
 * (it may have been appended) and answers UNAVAILABLE.
 */
async function held<T>(
  owners: Owners,
  subject: string,
  first: WorkerPeer | undefined,
  attempt: (to: WorkerPeer | 'local', deadline?: number) => Promise<T>,
  safe: (err: unknown) => boolean,
  noOwner?: unknown,
): Promise<T> {
  const moves = owners.moves;
  let until = Date.now() + (moves?.waitMs ?? 0);
  let extended = false;
  let to = first as WorkerPeer | 'local' | undefined;
  let last = noOwner;
  let jumped = false;
  for (;;) {
    if (to !== undefined) {
      const by = to === 'local' ? undefined : moves?.answerBy(subject, to);
      try {
        return await attempt(to, by);
      } catch (err) {
        if (!safe(err)) throw retriable(err);
        last = err;
        if (moves !== undefined && by !== undefined && Date.now() >= by && !extended) {
          extended = true;
          until = Math.max(until, Date.now() + moves.waitMs / 2);
        }
        const named: WorkerPeer | undefined = jumped || to === 'local' ? undefined : namedPeer(owners, err, to);
        jumped = true;
        if (named !== undefined) {
          to = named;
          continue;
        }
      }
    }
    if (moves === undefined || Date.now() + RETRY_EVERY_MS > until)
      throw retriable(last ?? new UnavailableError(`the partition of subject "${subject}" has no owner yet; retry`));
    await sleep(RETRY_EVERY_MS);
    // A failed re-read leaves the last view; the next try tells.
    await moves.refresh().catch(() => undefined);
    to = moves.target(subject);
  }
}

/** The peer a NOT_OWNER answer names, when it is another one than the one that answered. */
function namedPeer(owners: Owners, err: unknown, tried: WorkerPeer): WorkerPeer | undefined {
  const named = err instanceof BrokerError && err.reason === 'NOT_OWNER' ? err.metadata.owner : undefined;
  return named === undefined ? undefined : owners.peerNamed(named, tried);
}

/**
 * Whether a failed publish is known not to have been appended, so trying it at the next owner cannot append it
 * twice: the owner refused it (NOT_OWNER: its append gate said no), or refused the call because it was shutting
 * down (before any work), or the call never left this member (no connection to the owner). Any other failure
 * (a timeout, a connection lost mid-call) has an unknown outcome and is not retried here, with or without an
 * idempotency key: the keys a partition has seen are not carried to its next owner.
 */
function refusedBeforeAppend(err: unknown): boolean {
  if (!(err instanceof BrokerError)) return false;
  if (err.reason === 'NOT_OWNER') return true;
  return err.reason === 'UNAVAILABLE' && (err.metadata.shutdown === 'true' || neverSent(err));
}

/** A read has no side effect: any refusal or unreachable owner may be tried at the next one. */
function readRetriable(err: unknown): boolean {
  return err instanceof BrokerError && (err.reason === 'NOT_OWNER' || err.reason === 'UNAVAILABLE');
}

/** An owner's reads, each rerouted once when the owner refuses NOT_OWNER, and in a cluster held while it moves. */
class ReroutingPeer implements OwnerPeer {
  constructor(
    private readonly first: WorkerPeer | undefined,
    private readonly owners: Owners,
    private readonly subject: string,
    private readonly noOwner?: unknown,
  ) {}

  get name(): string {
    return this.first?.name ?? 'the next owner';
  }

  fetch(request: FetchRequest): Promise<MessageResponse> {
    return this.held((peer, by) => peer.fetch(request, by));
  }

  fetchRange(request: FetchRangeRequest, signal: AbortSignal): Promise<FetchRangeResponse> {
    return this.held((peer, by) => peer.fetchRange(request, signal, by));
  }

  getSubject(request: GetSubjectRequest): Promise<ProtoSubjectInfo> {
    return this.held((peer, by) => peer.getSubject(request, by));
  }

  listSubjects(request: ListSubjectsRequest, signal: AbortSignal): Promise<ListSubjectsResponse> {
    if (this.first === undefined) return Promise.reject(retriable(this.noOwner));
    return this.first.listSubjects(request, signal);
  }

  /** A partition that came to this member meanwhile is read through its own port (served from the local log). */
  private held<T>(call: (peer: WorkerPeer, deadline?: number) => Promise<T>): Promise<T> {
    const at = (to: WorkerPeer | 'local', by?: number): Promise<T> => {
      const peer = to === 'local' ? this.owners.moves?.self() : to;
      if (peer !== undefined) return call(peer, by);
      return Promise.reject(new UnavailableError('this member is not registered in the cluster yet; retry'));
    };
    return held(this.owners, this.subject, this.first, at, readRetriable, this.noOwner);
  }
}

/** NOT_OWNER as the client should see it: the partition is between owners, retry. Anything else unchanged. */
function retriable(err: unknown): unknown {
  if (!(err instanceof BrokerError) || err.reason !== 'NOT_OWNER') return err;
  return new UnavailableError(`the subject's partition is moving between owners (${err.message}); retry`, {
    metadata: { ...err.metadata },
  });
}
