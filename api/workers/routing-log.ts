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
    const peer = this.owners.peerOf(subject);
    return peer === undefined ? undefined : new ReroutingPeer(peer, this.owners);
  }

  others(): readonly OwnerPeer[] {
    return this.owners.others();
  }

  append(input: AppendInput): Promise<number> {
    let peer: WorkerPeer | undefined;
    try {
      peer = this.owners.peerOf(input.subject);
    } catch (err) {
      return Promise.reject(err);
    }
    if (peer === undefined) return this.local.writer.append(input);
    return rerouted(this.owners, peer, (owner) => owner.publishes.append(input));
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

/**
 * A forwarded call whose owner turns out not to own the partition (a view one round old, while partitions move) is
 * made once more at the owner it names; a NOT_OWNER that remains reaches the client as UNAVAILABLE, retriable:
 * NOT_OWNER is for forwarders, clients never see it.
 */
async function rerouted<T>(owners: Owners, first: WorkerPeer, call: (peer: WorkerPeer) => Promise<T>): Promise<T> {
  try {
    return await call(first);
  } catch (err) {
    const named = err instanceof BrokerError && err.reason === 'NOT_OWNER' ? err.metadata.owner : undefined;
    const next = named === undefined ? undefined : owners.peerNamed(named, first);
    if (next === undefined) throw retriable(err);
    return call(next).catch((again: unknown) => Promise.reject(retriable(again)));
  }
}

/** An owner's reads, each rerouted once when the owner refuses NOT_OWNER. */
class ReroutingPeer implements OwnerPeer {
  constructor(
    private readonly first: WorkerPeer,
    private readonly owners: Owners,
  ) {}

  get name(): string {
    return this.first.name;
  }

  fetch(request: FetchRequest): Promise<MessageResponse> {
    return this.rerouted((peer) => peer.fetch(request));
  }

  fetchRange(request: FetchRangeRequest, signal: AbortSignal): Promise<FetchRangeResponse> {
    return this.rerouted((peer) => peer.fetchRange(request, signal));
  }

  getSubject(request: GetSubjectRequest): Promise<ProtoSubjectInfo> {
    return this.rerouted((peer) => peer.getSubject(request));
  }

  listSubjects(request: ListSubjectsRequest, signal: AbortSignal): Promise<ListSubjectsResponse> {
    return this.first.listSubjects(request, signal);
  }

  private rerouted<T>(call: (peer: WorkerPeer) => Promise<T>): Promise<T> {
    return rerouted(this.owners, this.first, call);
  }
}

/** NOT_OWNER as the client should see it: the partition is between owners, retry. Anything else unchanged. */
function retriable(err: unknown): unknown {
  if (!(err instanceof BrokerError) || err.reason !== 'NOT_OWNER') return err;
  return new UnavailableError(`the subject's partition is moving between owners (${err.message}); retry`, {
    metadata: { ...err.metadata },
  });
}
