import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { UnavailableError, type ColdStore, type CommitSegment } from '../../core/index.js';
import { MemoryIdReservations } from '../../cluster/index.js';
import { ReplicationLagBoard, type PartitionedLogOptions, type ReplicationLag } from '../../log/index.js';
import { tempPartitioned, type TempPartitioned } from '../../log/test-support/temp-partitioned.js';
import { createTieredReader } from '../tiered-reader.js';
import { publish, text } from './replicated-acks-scenario.js';

/**
 * The cold tier as the stream sees it, with a hand on it: writes can be held (they wait until released or failed)
 * or refused, and every attempt is counted.
 */
export class HeldStore implements Pick<ColdStore, 'writeCommit'> {
  attempts = 0;
  refusing = false;
  private held: Array<{ go: () => void; fail: (err: Error) => void }> | undefined;

  constructor(readonly inner: ColdStore) {}

  async writeCommit(segments: readonly CommitSegment[], retentionMs: number): Promise<void> {
    this.attempts += 1;
    if (this.held !== undefined) {
      const held = this.held;
      await new Promise<void>((go, fail) => held.push({ go, fail }));
    }
    if (this.refusing) throw new UnavailableError('cold store refusing (injected)');
    await this.inner.writeCommit(segments, retentionMs);
  }

  /** Writes from now wait until release() or fail(). */
  hold(): void {
    this.held ??= [];
  }

  /** Lets the held writes (and later ones) through. */
  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const h of held) h.go();
  }

  /** Fails the held writes and refuses later ones. */
  fail(): void {
    const held = this.held ?? [];
    this.held = undefined;
    this.refusing = true;
    for (const h of held) h.fail(new UnavailableError('cold store went away (injected)'));
  }
}

/** Polls `condition` every 10 ms until it holds, failing after `ms`. */
export async function eventually(condition: () => boolean, what: string, ms = 5_000): Promise<void> {
  const until = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > until) assert.fail(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A partitioned log with acks local streamed to `store`, id reservations in memory (chunk 50). */
export async function streamedLog(
  store: HeldStore,
  stream: Partial<NonNullable<PartitionedLogOptions['replicaStream']>> = {},
  more: Partial<PartitionedLogOptions> = {},
): Promise<TempPartitioned & { lag(): ReplicationLag }> {
  const board = new ReplicationLagBoard();
  const ctx = await tempPartitioned({
    partitions: 2,
    idReservations: new MemoryIdReservations(),
    idReservationChunk: 50,
    replicaStream: {
      store,
      retentionMs: 3_600_000,
      maxQueuedBytes: 1 << 20,
      maxLagMs: 0,
      retry: { firstMs: 20, maxMs: 50 },
      board,
      ...stream,
    },
    ...more,
  });
  return Object.assign(ctx, { lag: () => board.lag() });
}

/**
 * Acks local, streamed: `n` records per subject streamed, then `held` more acknowledged while the cold tier holds
 * its writes; the lag is read, the cold tier goes away and the data dir is wiped, and the log reopens on it. Every
 * acked id is served with its body from the cold tier or answers lost; the lost are at most the lag read before the
 * wipe; ids continue above every acked one. Resolves with the lag and the lost count.
 */
export async function wipedStreamedDisk(
  cold: ColdStore,
  n: number,
  held: number,
  bodyBytes = 0,
): Promise<{ lag: number; lost: number }> {
  const store = new HeldStore(cold);
  const ctx = await streamedLog(store);
  try {
    // Bodies are "<subject>-<i>", i from 0 in each publish: the id an acked body must come back under.
    const acked: Array<[string, number, string]> = [];
    for (const [subject, ids] of await publish(ctx.log, ['a', 'b'], n, { bodyBytes }))
      for (const id of ids) acked.push([subject, id, `${subject}-${id - 1}`]);
    await eventually(() => ctx.lag().records === 0, 'the streamed records in the cold tier');
    store.hold();
    for (const [subject, ids] of await publish(ctx.log, ['a', 'b'], held, { bodyBytes }))
      for (const id of ids) acked.push([subject, id, `${subject}-${id - n - 1}`]);
    const lag = ctx.lag().records;
    store.fail();
    await ctx.log.close();
    await rm(ctx.dir, { recursive: true, force: true });
    const tiered = createTieredReader(await ctx.reopen(), cold);
    let lost = 0;
    let top = 0;
    for (const [subject, id, body] of acked) {
      top = Math.max(top, id);
      const found = await tiered.get(subject, id);
      if (found.kind === 'lost') lost += 1;
      else assert.ok(found.kind === 'record' && text(found.record) === body, `${subject}@${id}: ${found.kind}`);
    }
    assert.ok(lost <= lag, `lost ${lost} <= the lag reported before the wipe (${lag})`);
    const next = await ctx.log.append({ subject: 'a', body: Buffer.from('after'), expirationSeconds: 0 });
    assert.ok(next > top, `ids continue above every acked one (${next} > ${top})`);
    return { lag, lost };
  } finally {
    await ctx.dispose();
  }
}
