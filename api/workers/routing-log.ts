import {
  BrokerError,
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
    return this.owners.peerOf(subject);
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
    const tried = peer;
    return tried.publishes.append(input).catch((err: unknown) => {
      // An owner that does not own the partition (a stale view) names the one it believes does: ask that one, once.
      const named = err instanceof BrokerError && err.reason === 'NOT_OWNER' ? err.metadata.owner : undefined;
      const next = named === undefined ? undefined : this.owners.peerNamed(named, tried);
      if (next === undefined) throw err;
      return next.publishes.append(input);
    });
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
    return peer === undefined ? this.local.reader.tail(subject, from) : this.remoteTails.tail(subject, from);
  }

  subjectInfo(subject: string): Promise<SubjectInfo | undefined> {
    return this.local.reader.subjectInfo(subject);
  }

  listSubjects(query: SubjectQuery): Promise<SubjectInfo[]> {
    return this.local.reader.listSubjects(query);
  }
}
