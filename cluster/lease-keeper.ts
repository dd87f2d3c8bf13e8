import { EventEmitter } from 'node:events';
import {
  UNCLAIMED,
  type ClusterMember,
  type OwnershipChange,
  type OwnershipStore,
  type PartitionOwnership,
} from '../core/index.js';
import {
  resolveLeaseKeeperOptions,
  type LeaseKeeperOptions,
  type ResolvedLeaseKeeperOptions,
} from './lease-keeper-options.js';
import { placement } from './placement.js';

/** Why a partition left this member: handed over, claimed by another member, or the keeper stopped. */
export type LostReason = 'released' | 'taken' | 'stopped';

export type LeaseKeeperEvents = {
  /**
   * This member now owns the partition at this epoch (the fencing token for everything it writes for it).
   * `released`: the row had no owner, so its last owner handed it over (sealed, flushed to the cold tier, settled
   * its reservations, then released) or it was never owned; false when it was taken from an owner whose lease
   * lapsed or from this member's earlier incarnation (a crash: acknowledged ids may be lost).
   */
  acquired: [partition: number, epoch: number, released: boolean];
  /** This member no longer owns the partition: stop serving it (canAppend() is already false). */
  lost: [partition: number, epoch: number, reason: LostReason];
  /** A store call failed (the round goes on with the rest; leases lapse by themselves if it keeps failing). */
  storeError: [error: Error];
};

/** Who owns a partition, for routing a call to it: the member, its advertise address if live, the epoch. */
export interface PartitionOwner {
  readonly member: string;
  readonly address?: string;
  readonly epoch: number;
  /**
   * Another member's lease as its row said at the last round (the owner's clock): a call forwarded to it that has
   * not been answered by then (plus the drift) is waiting on an owner that may be frozen and replaced.
   */
  readonly leaseUntilMs?: number;
}

/** A partition this member holds. */
export interface Holding {
  readonly partition: number;
  readonly epoch: number;
  /** The lease's end by this member's clock: the earlier of the store's answer and the renewal's send time + lease. */
  readonly leaseUntilMs: number;
  /** serving; handingOver: the hand-over callback runs; handedOver: it resolved and the release is due. */
  readonly state: 'serving' | 'handingOver' | 'handedOver';
}

type MutableHolding = { -readonly [K in keyof Holding]: Holding[K] };

/** What the last round saw: the live members and every partition's row. */
interface View {
  readonly members: readonly ClusterMember[];
  readonly rows: ReadonlyMap<number, PartitionOwnership>;
  readonly desired: readonly string[];
}

/**
 * Keeps one member's share of the partitions (cluster/README.md): every round it beats its heartbeat, reads the
 * live members and the ownership rows, claims the partitions rendezvous placement gives it that are free or whose
 * lease has ended (plus the clock drift), renews those it holds, and hands over those placed on another live member
 * (callback, then release). canAppend() fences by time: it turns false before the lease could end, so an owner that
 * cannot renew stops appending before anyone else may claim.
 */
export class LeaseKeeper extends EventEmitter<LeaseKeeperEvents> {
  private readonly o: ResolvedLeaseKeeperOptions;
  private readonly store: OwnershipStore;
  private readonly holdings = new Map<number, MutableHolding>();
  private view: View | undefined;
  private round: Promise<void> | undefined;
  private readonly handOvers = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private stopped = false;
  /** When the last round (or view refresh) began, by this member's clock: refresh() runs at most so often. */
  private lastRoundAt = Number.NEGATIVE_INFINITY;

  constructor(options: LeaseKeeperOptions) {
    super();
    this.o = resolveLeaseKeeperOptions(options);
    this.store = options.store;
  }

  /** This member's id. */
  get memberId(): string {
    return this.o.member.id;
  }

  /** Runs a round now and then every renewEveryMs until stop(). */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    const round = (): void => {
      this.tick()
        // Only a throwing event listener gets here (store failures are reported inside the round): keep going.
        .catch((err: unknown) => this.o.logger?.error({ err }, 'lease keeper round failed'))
        .finally(() => {
          if (this.stopped) return;
          this.timer = setTimeout(round, this.o.renewEveryMs);
          this.timer.unref();
        });
    };
    round();
  }

  /** One round; a round already running is joined, not doubled. Store failures go to 'storeError', not here. */
  tick(): Promise<void> {
    this.round ??= this.runRound().finally(() => (this.round = undefined));
    return this.round;
  }

  /**
   * A round now, for a partition that is moving (a call found no owner, or a refusal before its append): the
   * new owner claims as soon as the row is free rather than at its next timed round, and routing sees the new row.
   * At most one per `minIntervalMs`; joined when one is running. After stop() it only re-reads the members and rows
   * (no heartbeat: the member has left), so a leaving broker still routes its last calls to the new owners.
   */
  refresh(minIntervalMs = 100): Promise<void> {
    if (this.round !== undefined) return this.round;
    if (!this.started || this.o.now() - this.lastRoundAt < minIntervalMs) return Promise.resolve();
    if (!this.stopped) return this.tick();
    this.lastRoundAt = this.o.now();
    this.round = this.readView()
      .then((view) => {
        if (view !== undefined) this.view = view;
      })
      .finally(() => (this.round = undefined));
    return this.round;
  }

  /** The member placement gives the partition to, as the last round saw the live members. */
  placedOn(partition: number): string | undefined {
    return this.view?.desired[partition];
  }

  /** True while this member holds the partition, is not handing it over, and its lease is safely ahead. */
  canAppend(partition: number): boolean {
    const h = this.holdings.get(partition);
    return (
      h !== undefined &&
      h.state === 'serving' &&
      this.o.now() < h.leaseUntilMs - this.o.maxClockDriftMs - this.o.safetyMs
    );
  }

  /** The epoch this member holds the partition at, if it does. */
  epochOf(partition: number): number | undefined {
    return this.holdings.get(partition)?.epoch;
  }

  /** Until when this member's lease on the partition runs by its own clock, ms since the epoch; 0 if not held. */
  leaseUntilOf(partition: number): number {
    return this.holdings.get(partition)?.leaseUntilMs ?? 0;
  }

  /** The partitions this member holds, in partition order. */
  held(): Holding[] {
    return [...this.holdings.values()].map((h) => ({ ...h })).sort((a, b) => a.partition - b.partition);
  }

  /** The owner of a partition: this member if it holds it, else as the last round saw it (address when live). */
  ownerOf(partition: number): PartitionOwner | undefined {
    const held = this.holdings.get(partition);
    if (held !== undefined) return { member: this.o.member.id, address: this.o.member.address, epoch: held.epoch };
    const row = this.view?.rows.get(partition);
    if (row?.owner === undefined) return undefined;
    const address = this.view?.members.find((m) => m.id === row.owner)?.address;
    const owner = { member: row.owner, epoch: row.epoch, leaseUntilMs: row.leaseUntilMs };
    return address === undefined ? owner : { ...owner, address };
  }

  /** The live members as the last round saw them. */
  members(): readonly ClusterMember[] {
    return this.view?.members ?? [];
  }

  /**
   * Stops the rounds. With `handOver` (the default; a clean shutdown) the member leaves the membership at once, then
   * hands over and releases every partition it holds, so the others claim them in their next round. Without, it
   * just forgets them (as a crash would: their leases lapse) and reports them lost.
   */
  async stop(options: { handOver?: boolean } = {}): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.round;
    if (options.handOver === false) {
      for (const h of [...this.holdings.values()]) this.drop(h, 'stopped');
      return;
    }
    await this.call(() => this.store.leave(this.o.member.id));
    for (const h of this.holdings.values()) if (h.state === 'serving') this.startHandOver(h);
    await this.renewWhileHandingOver();
    for (const h of [...this.holdings.values()]) if (h.state === 'handedOver') await this.release(h);
  }

  /** With the rounds stopped, keeps the leases of partitions being handed over until every callback has settled. */
  private async renewWhileHandingOver(): Promise<void> {
    while (this.handOvers.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const due = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.o.renewEveryMs)));
      await Promise.race([Promise.all([...this.handOvers]), due]);
      clearTimeout(timer);
      const pending = [...this.holdings.values()].filter((h) => h.state === 'handingOver');
      if (this.handOvers.size > 0) await Promise.all(pending.map((h) => this.renew(h)));
    }
  }

  private async runRound(): Promise<void> {
    if (this.stopped) return;
    this.lastRoundAt = this.o.now();
    const view = await this.observe();
    if (view !== undefined) this.view = view;
    await Promise.all([
      ...[...this.holdings.values()].map((h) => this.keep(h, view)),
      ...(view === undefined ? [] : this.claimsDue(view).map((row) => this.claim(row))),
    ]);
  }

  /** Heartbeat, then the live members and rows; undefined when the store cannot be read. */
  private async observe(): Promise<View | undefined> {
    await this.call(() => this.store.heartbeat(this.o.member, this.o.memberTtlMs));
    return this.readView(true);
  }

  /** The live members (this one included when `self`, even before its heartbeat is visible) and every row. */
  private async readView(self = false): Promise<View | undefined> {
    const read = await this.call(() => Promise.all([this.store.liveMembers(), this.store.ownerships()]));
    if (read === undefined) return undefined;
    const [live, rows] = read;
    const members = !self || live.some((m) => m.id === this.o.member.id) ? live : [...live, this.o.member];
    const ids = members.map((m) => m.id);
    return { members, rows: new Map(rows.map((r) => [r.partition, r])), desired: placement(this.o.partitions, ids) };
  }

  /** One held partition's round: lost if another member took it, else renewed, and handed over if placed elsewhere. */
  private async keep(h: MutableHolding, view: View | undefined): Promise<void> {
    const row = view?.rows.get(h.partition);
    // A row below the held epoch is a stale read (a replica behind), not news: only a later epoch, or this epoch
    // without this member, means the partition has left it.
    if (row !== undefined && (row.epoch > h.epoch || (row.epoch === h.epoch && row.owner !== this.o.member.id))) {
      this.drop(h, 'taken');
      return;
    }
    if (h.state === 'handedOver') {
      await this.release(h);
      return;
    }
    const desired = view?.desired[h.partition];
    if (h.state === 'serving' && desired !== undefined && desired !== this.o.member.id) this.startHandOver(h);
    await this.renew(h);
  }

  /** The rows of the partitions placed here that this member may claim now. */
  private claimsDue(view: View): PartitionOwnership[] {
    const now = this.o.now();
    const due: PartitionOwnership[] = [];
    for (let p = 0; p < this.o.partitions; p++) {
      if (view.desired[p] !== this.o.member.id || this.holdings.has(p)) continue;
      const row = view.rows.get(p) ?? { partition: p, ...UNCLAIMED };
      // A row naming this member that it does not hold is an earlier incarnation's (a member id runs in one
      // process at a time): claimed at once, with a new epoch.
      const free = row.owner === undefined || row.owner === this.o.member.id;
      if (free || now >= row.leaseUntilMs + this.o.maxClockDriftMs) due.push(row);
    }
    return due;
  }

  private async claim(row: PartitionOwnership): Promise<void> {
    const sentAt = this.o.now();
    const change = await this.call(() => this.store.claim(row.partition, this.o.member.id, row, this.o.leaseMs));
    // Kept even when stop() has begun: stop() then hands it over, rather than leave it to lapse.
    if (change?.applied !== true) return;
    const h: MutableHolding = {
      partition: row.partition,
      epoch: change.current.epoch,
      leaseUntilMs: Math.min(change.current.leaseUntilMs, sentAt + this.o.leaseMs),
      state: 'serving',
    };
    this.holdings.set(h.partition, h);
    this.emit('acquired', h.partition, h.epoch, row.owner === undefined);
  }

  private async renew(h: MutableHolding): Promise<void> {
    const sentAt = this.o.now();
    const change = await this.call(() => this.store.renew(h.partition, this.o.member.id, h.epoch, this.o.leaseMs));
    if (change === undefined || this.holdings.get(h.partition) !== h) return;
    if (change.applied) h.leaseUntilMs = Math.min(change.current.leaseUntilMs, sentAt + this.o.leaseMs);
    else this.drop(h, 'taken');
  }

  /** Refuses appends now, runs the hand-over callback, and releases once it resolves (or serves again if it fails). */
  private startHandOver(h: MutableHolding): void {
    h.state = 'handingOver';
    const run = this.o
      .handOver(h.partition, h.epoch)
      .then(
        async () => {
          if (this.holdings.get(h.partition) !== h) return;
          h.state = 'handedOver';
          await this.release(h);
        },
        (err: unknown) => {
          this.o.logger?.warn({ err, partition: h.partition }, 'hand-over failed; the partition serves on');
          if (this.holdings.get(h.partition) === h) h.state = 'serving';
        },
      )
      .finally(() => this.handOvers.delete(run));
    this.handOvers.add(run);
  }

  /** Releases a handed-over partition; on a store failure it stays held (and renewed) and the next round retries. */
  private async release(h: MutableHolding): Promise<void> {
    const change: OwnershipChange | undefined = await this.call(() =>
      this.store.release(h.partition, this.o.member.id, h.epoch),
    );
    if (change === undefined || this.holdings.get(h.partition) !== h) return;
    this.drop(h, change.applied ? 'released' : 'taken');
  }

  private drop(h: MutableHolding, reason: LostReason): void {
    if (this.holdings.get(h.partition) !== h) return;
    this.holdings.delete(h.partition);
    this.emit('lost', h.partition, h.epoch, reason);
  }

  /** A store call whose failure is reported, not thrown: a round does what it can. */
  private async call<T>(fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn();
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      this.o.logger?.warn({ err: error, member: this.o.member.id }, 'ownership store call failed');
      if (this.listenerCount('storeError') > 0) this.emit('storeError', error);
      return undefined;
    }
  }
}
