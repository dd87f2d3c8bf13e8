import type { WorkerPeer } from './worker-peer.js';
import type { WorkerTopology } from './worker-topology.js';

/**
 * Who serves a subject, as the routing of calls needs it: this process (undefined), or a peer to forward to. The
 * workers of one broker decide it from the partition (p mod N); a cluster member from the ownership rows.
 */
export interface Owners {
  /** The peer owning the subject's partition, undefined when it is this process; throws when nobody can serve it. */
  peerOf(subject: string): WorkerPeer | undefined;
  /** The peer a NOT_OWNER error names as the owner it believes, if that is another one than `tried`. */
  peerNamed(owner: string, tried: WorkerPeer): WorkerPeer | undefined;
  /** Every other owner: ListSubjects asks them all. */
  others(): readonly WorkerPeer[];
  /** How a call waits for a partition moving between owners; absent: it does not (workers of one broker). */
  readonly moves?: OwnerMoves;
}

/**
 * Partitions moving between the members of a cluster (a hand-over): a call refused before its append, or finding
 * no owner, is held and tried again at the next owner within `waitMs` (routing-log.ts, `held`).
 */
export interface OwnerMoves {
  /** How long one call may be held for the next owner, ms. */
  readonly waitMs: number;
  /** Reads the owners again (at most every 100 ms), which also lets a claim due on this member happen now. */
  refresh(): Promise<void>;
  /**
   * Where to try the subject now: 'local' when this member's log holds it, its live owner, else the live member
   * placement gives it to (asked, it claims at once once the row is free); undefined when there is none yet.
   */
  target(subject: string): WorkerPeer | 'local' | undefined;
  /** This member reached through its own port, for reads held until the partition came here. */
  self(): WorkerPeer | undefined;
  /**
   * The deadline of one call forwarded now to `to` for the subject (ms since the epoch): shortly after the lease
   * that its row gives `to` runs out (plus the clock drift), since an owner that has not answered by then may be
   * frozen (a GC pause, SIGSTOP, a partitioned network) and replaced; undefined when `to` is not the row's owner.
   */
  answerBy(subject: string, to: WorkerPeer): number | undefined;
}

/** The workers of one broker: worker p mod N owns partition p. */
export class WorkerOwners implements Owners {
  constructor(
    private readonly topology: WorkerTopology,
    /** Every worker's peer by index; this worker's own entry is undefined. */
    private readonly peers: ReadonlyArray<WorkerPeer | undefined>,
  ) {}

  peerOf(subject: string): WorkerPeer | undefined {
    const owner = this.topology.ownerOf(subject);
    return owner === this.topology.index ? undefined : this.peer(owner);
  }

  /** A NOT_OWNER error's `owner` is `<broker id>/w<n>`. */
  peerNamed(owner: string, tried: WorkerPeer): WorkerPeer | undefined {
    const match = /\/w(\d+)$/.exec(owner);
    const index = match?.[1] === undefined ? undefined : Number(match[1]);
    if (index === undefined || index >= this.topology.count || index === this.topology.index) return undefined;
    const named = this.peer(index);
    return named === tried ? undefined : named;
  }

  others(): readonly WorkerPeer[] {
    return this.peers.filter((p): p is WorkerPeer => p !== undefined);
  }

  private peer(owner: number): WorkerPeer {
    const peer = this.peers[owner];
    if (peer === undefined) throw new Error(`no peer for worker ${owner} of ${this.topology.count}`);
    return peer;
  }
}
