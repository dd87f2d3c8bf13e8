import type {
  AppendInput,
  LogReader,
  LogRecord,
  LogWriter,
  LookupResult,
  ReadLimits,
  SubjectInfo,
  SubjectQuery,
  TailCursor,
} from '../../core/index.js';
import type { OwnerPeer, RequestRouter } from '../grpc/request-router.js';
import type { WorkerPeer } from './worker-peer.js';
import type { WorkerTopology } from './worker-topology.js';

/** Opens tail cursors on subjects other workers own (the upstream hub). */
export interface RemoteTails {
  tail(subject: string, from: number | 'live'): Promise<TailCursor>;
}

/**
 * The log as one worker's service sees it: its own partitions in the local log, every other subject at the worker
 * that owns it. Publishes travel through the owner's forwarder (batched); tails through one shared upstream
 * subscription per subject; reads of other workers' subjects never reach here (the service forwards those calls
 * whole, see RequestRouter), so the read methods are the local log's.
 */
export class WorkerRouting implements LogWriter, LogReader, RequestRouter {
  constructor(
    private readonly topology: WorkerTopology,
    private readonly local: LogWriter & LogReader,
    /** Every worker's peer by index; this worker's own entry is never used. */
    private readonly peers: ReadonlyArray<WorkerPeer | undefined>,
    private readonly remoteTails: RemoteTails,
  ) {}

  peerFor(subject: string): OwnerPeer | undefined {
    const owner = this.topology.ownerOf(subject);
    return owner === this.topology.index ? undefined : this.peer(owner);
  }

  others(): readonly OwnerPeer[] {
    return this.peers.filter((p, i): p is WorkerPeer => p !== undefined && i !== this.topology.index);
  }

  append(input: AppendInput): Promise<number> {
    const owner = this.topology.ownerOf(input.subject);
    return owner === this.topology.index ? this.local.append(input) : this.peer(owner).publishes.append(input);
  }

  appendMany(inputs: readonly AppendInput[]): Promise<number[]> {
    return this.appendBatch(inputs);
  }

  /**
   * Atomic per worker: the inputs of each owner go to it as one PublishBatch (atomic there per partition). A batch
   * spanning workers can be partly written if one owner fails; the README says so.
   */
  async appendBatch(inputs: readonly AppendInput[]): Promise<number[]> {
    const byOwner = new Map<number, number[]>();
    inputs.forEach((input, i) => {
      const owner = this.topology.ownerOf(input.subject);
      const positions = byOwner.get(owner) ?? [];
      positions.push(i);
      byOwner.set(owner, positions);
    });
    const ids = new Array<number>(inputs.length).fill(0);
    await Promise.all(
      [...byOwner].map(async ([owner, positions]) => {
        const part = positions.map((i) => inputs[i] as AppendInput);
        const got =
          owner === this.topology.index
            ? await this.local.appendBatch(part)
            : await this.peer(owner).publishBatch(part);
        positions.forEach((i, k) => (ids[i] = got[k] ?? 0));
      }),
    );
    return ids;
  }

  get(subject: string, offset: number): Promise<LookupResult> {
    return this.local.get(subject, offset);
  }

  readRange(subject: string, fromOffset: number, limits: ReadLimits): Promise<LogRecord[]> {
    return this.local.readRange(subject, fromOffset, limits);
  }

  tail(subject: string, from: number | 'live'): Promise<TailCursor> {
    const owner = this.topology.ownerOf(subject);
    return owner === this.topology.index ? this.local.tail(subject, from) : this.remoteTails.tail(subject, from);
  }

  subjectInfo(subject: string): Promise<SubjectInfo | undefined> {
    return this.local.subjectInfo(subject);
  }

  listSubjects(query: SubjectQuery): Promise<SubjectInfo[]> {
    return this.local.listSubjects(query);
  }

  private peer(owner: number): WorkerPeer {
    const peer = this.peers[owner];
    if (peer === undefined) throw new Error(`no peer for worker ${owner} of ${this.topology.count}`);
    return peer;
  }
}
