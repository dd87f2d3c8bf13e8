import { UnavailableError, type ClusterMember } from '../../core/index.js';
import type { OwnerMoves, Owners } from '../workers/owners.js';
import type { ChannelCredentials, Interceptor } from '@grpc/grpc-js';
import { WorkerPeer } from '../workers/worker-peer.js';

/** What the routing needs of the lease keeper (cluster/LeaseKeeper). */
export interface OwnershipView {
  readonly memberId: string;
  ownerOf(
    partition: number,
  ): { readonly member: string; readonly address?: string; readonly leaseUntilMs?: number } | undefined;
  members(): readonly ClusterMember[];
  /** The member placement gives the partition to, as the last round saw the live members. */
  placedOn(partition: number): string | undefined;
  /** Reads the ownership rows again now (rate-limited by the lease keeper). */
  refresh(): Promise<void>;
  /** How long a call may be held for a moving partition's next owner, ms. */
  readonly handoverWaitMs: number;
  /** BROKER_MAX_CLOCK_DRIFT, ms: another member's lease runs this much longer by this member's clock. */
  readonly maxClockDriftMs: number;
}

/**
 * How long a forwarded call waits past its owner's lease (and the drift) before giving up on it: by then a live
 * owner has renewed (the next re-read shows it) and a frozen one may be replaced (cluster/README.md).
 */
const ANSWER_MARGIN_MS = 250;
/** The least time a forwarded call gets, whatever the row said: a lease not yet renewed in this member's view. */
const MIN_ANSWER_MS = 1_000;

/** What the routing needs of the local log. */
export interface LocalPartitions {
  partitionOf(subject: string): number;
  owns(subject: string): boolean;
}

/**
 * The members of a cluster as owners of subjects: this broker for the partitions its log holds now, else the
 * member the ownership rows name (as the lease keeper's last round saw them), reached at its advertise address. A
 * partition between owners (its lease lapsing after a crash, or being handed over) has nobody to serve it for that
 * moment: UNAVAILABLE, retriable.
 */
export class ClusterOwners implements Owners {
  private readonly peers = new Map<string, WorkerPeer>();
  readonly moves: OwnerMoves;

  constructor(
    private readonly view: OwnershipView,
    private readonly log: LocalPartitions,
    private readonly onCall: (method: string, to: string) => void = () => undefined,
    /** The channels to other members: TLS credentials, and interceptors (the cluster token's). */
    private readonly channels: { credentials?: ChannelCredentials; interceptors?: Interceptor[] } = {},
  ) {
    this.moves = {
      waitMs: view.handoverWaitMs,
      refresh: () => view.refresh(),
      target: (subject) => this.target(subject),
      self: () => this.self(),
      answerBy: (subject, to) => this.answerBy(subject, to),
    };
  }

  peerOf(subject: string): WorkerPeer | undefined {
    if (this.log.owns(subject)) return undefined;
    const partition = this.log.partitionOf(subject);
    const owner = this.view.ownerOf(partition);
    if (owner === undefined || owner.address === undefined || owner.member === this.view.memberId) {
      throw new UnavailableError(
        `partition ${partition} of subject "${subject}" has no owner serving it right now (it is being taken over, within BROKER_LEASE); retry`,
        { metadata: { partition: String(partition) } },
      );
    }
    return this.peer(owner.member, owner.address);
  }

  peerNamed(owner: string, tried: WorkerPeer): WorkerPeer | undefined {
    const member = this.view.members().find((m) => m.id === owner);
    if (member === undefined || member.id === this.view.memberId) return undefined;
    const peer = this.peer(member.id, member.address);
    return peer === tried ? undefined : peer;
  }

  others(): readonly WorkerPeer[] {
    return this.view
      .members()
      .filter((m) => m.id !== this.view.memberId)
      .map((m) => this.peer(m.id, m.address));
  }

  /**
   * The member serving the subject, as a peer to call: its owner, or this member itself when it owns the subject now.
   * A shared upstream subscription opened while another member owned the subject keeps going when the partition
   * moves here: it resubscribes at the next id through this member's own port (marked forwarded, so served from
   * the local partition), with no gap, while new subscribers read the local log directly.
   */
  serving(subject: string): WorkerPeer {
    const owner = this.peerOf(subject);
    if (owner !== undefined) return owner;
    const self = this.self();
    if (self === undefined) throw new UnavailableError(`this member is not registered yet; retry`);
    return self;
  }

  private self(): WorkerPeer | undefined {
    const self = this.view.members().find((m) => m.id === this.view.memberId);
    return self === undefined ? undefined : this.peer(self.id, self.address);
  }

  /**
   * During a move: this member, the live owner, or (no live owner: released, or its owner gone) the live member
   * placed to take it, whose NOT_OWNER answer comes with a claim round of its own (cluster-parts.ts).
   */
  private target(subject: string): WorkerPeer | 'local' | undefined {
    if (this.log.owns(subject)) return 'local';
    const partition = this.log.partitionOf(subject);
    const owner = this.view.ownerOf(partition);
    if (owner?.member === this.view.memberId) return undefined;
    if (owner?.address !== undefined) return this.peer(owner.member, owner.address);
    const placed = this.view.placedOn(partition);
    const member = this.view.members().find((m) => m.id === placed);
    if (member === undefined || member.id === this.view.memberId) return undefined;
    return this.peer(member.id, member.address);
  }

  private answerBy(subject: string, to: WorkerPeer): number | undefined {
    const owner = this.view.ownerOf(this.log.partitionOf(subject));
    if (owner?.leaseUntilMs === undefined || owner.member !== to.name) return undefined;
    const lapses = owner.leaseUntilMs + this.view.maxClockDriftMs + ANSWER_MARGIN_MS;
    return Math.max(lapses, Date.now() + MIN_ANSWER_MS);
  }

  close(): void {
    for (const peer of this.peers.values()) peer.close();
    this.peers.clear();
  }

  /** One channel per member address, kept while the broker runs (members are few; their channels reconnect). */
  private peer(member: string, address: string): WorkerPeer {
    const key = `${member}@${address}`;
    let peer = this.peers.get(key);
    if (peer === undefined) {
      const onCall = (method: string): void => this.onCall(method, member);
      peer = new WorkerPeer(member, address, { ...this.channels, onCall, failFast: true });
      this.peers.set(key, peer);
    }
    return peer;
  }
}
