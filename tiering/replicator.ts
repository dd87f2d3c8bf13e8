import type { ColdStore, SegmentRef, SegmentStore } from '../core/index.js';
import { DEFAULT_MAX_YIELDING_LAG, Pacer } from './pacer.js';
import type { ReplicationObserver } from './replication-observer.js';

/** Owed segments read per unreplicatedSegments page. */
const PAGE = 500;
/** Records read out of the log per batch handed to the cold store (small, so pacing is fine-grained). */
const BATCH = 256;

/**
 * Copies one sealed segment to the cold tier and marks it replicated only after every row is acknowledged.
 * Idempotent: rows are keyed by (subject, segment, id), so a retry rewrites the same rows.
 */
export class Replicator {
  constructor(
    private readonly log: SegmentStore,
    private readonly cold: ColdStore,
    private readonly retentionMs: number,
    /** Told of every completed copy; its lag decides when pacing stops yielding. @defaultValue none (lag 0) */
    private readonly observer?: ReplicationObserver,
    /** Paces copies against the event loop; null: copy flat out. @defaultValue yield to a busy loop while the lag is under 128 segments */
    private readonly pacer: Pacer | null = new Pacer({
      behind: () => (observer?.replicationLag ?? 0) > DEFAULT_MAX_YIELDING_LAG,
    }),
  ) {}

  async replicate(ref: SegmentRef): Promise<{ rows: number; bytes: number } | 'skipped'> {
    const segment = await this.log.segment(ref);
    // Gone (expired and compacted), still active, or done by an earlier attempt: nothing to copy.
    if (segment === undefined || !segment.sealed || segment.replicated) return 'skipped';
    const records = this.log.readSegment(ref, BATCH);
    const written = await this.cold.writeSegment(
      segment,
      this.pacer === null ? records : this.pacer.paced(records),
      this.retentionMs,
    );
    await this.log.markReplicated(ref);
    this.observer?.segmentReplicated(written.bytes);
    return written;
  }

  /** Every sealed, unreplicated segment, oldest first across subjects (the source of truth for what is owed). */
  async *owed(): AsyncIterable<SegmentRef> {
    let after: SegmentRef | undefined;
    for (;;) {
      const page = await this.log.unreplicatedSegments({ limit: PAGE, ...(after === undefined ? {} : { after }) });
      for (const s of page) yield { subject: s.subject, baseOffset: s.baseOffset };
      const last = page.at(-1);
      if (page.length < PAGE || last === undefined) return;
      after = { subject: last.subject, baseOffset: last.baseOffset };
    }
  }
}
