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
    private readonly local: { readonly writer: LogWriter; readonly reader: LogReader },
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
    if (owner === this.topology.index) return this.local.writer.append(input);
    return this.peer(owner)
      .publishes.append(input)
      .catch((err: unknown) => {
        // A worker that does not own the partition names the one it believes does: ask that one, once.
        const named = err instanceof BrokerError && err.reason === 'NOT_OWNER' ? this.workerNamed(err) : undefined;
        if (named === undefined || named === owner || named === this.topology.index) throw err;
        return this.peer(named).publishes.append(input);
      });
  }

  /** The worker index in a NOT_OWNER error's `owner` (`<broker id>/w<n>`), if it names one of this broker's. */
  private workerNamed(err: BrokerError): number | undefined {
    const match = /\/w(\d+)$/.exec(err.metadata.owner ?? '');
    const index = match?.[1] === undefined ? undefined : Number(match[1]);
    return index !== undefined && index < this.topology.count ? index : undefined;
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
            ? await this.local.writer.appendBatch(part)
            : await this.peer(owner).publishBatch(part);
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

  tail(subject: string, from: number | 'live'): Promise<TailCursor> {
    const owner = this.topology.ownerOf(subject);
    return owner === this.topology.index ? this.local.reader.tail(subject, from) : this.remoteTails.tail(subject, from);
  }

  subjectInfo(subject: string): Promise<SubjectInfo | undefined> {
    return this.local.reader.subjectInfo(subject);
  }

  listSubjects(query: SubjectQuery): Promise<SubjectInfo[]> {
    return this.local.reader.listSubjects(query);
  }

  private peer(owner: number): WorkerPeer {
    const peer = this.peers[owner];
    if (peer === undefined) throw new Error(`no peer for worker ${owner} of ${this.topology.count}`);
    return peer;
  }
}
