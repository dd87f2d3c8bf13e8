import type { ColdStore, CommitSegment, IdReservations, LogRecord } from '../core/index.js';
import { createReserver, type IdReserver } from './id-reserver.js';
import type { WriteGate } from './write-gate.js';

/** BROKER_ACKS=replicated: where a log writes every group commit's records before acknowledging them. */
export interface ReplicaSettings {
  /** The cold tier (ColdStore.writeCommit). */
  readonly store: Pick<ColdStore, 'writeCommit'>;
  /** BROKER_RETENTION, ms, for the rows' TTLs (0 = for ever). */
  readonly retentionMs: number;
}

/** An append as the group commit holds it: its record and the base offset of the segment it went into. */
interface CommittedAppend {
  readonly record: LogRecord;
  readonly segmentBase: number;
}

/**
 * A batch's appends grouped by (subject, segment), records in offset order (appends of a subject join a batch in
 * offset order, and a roll within the batch starts a new segment).
 */
export function commitSegments(appends: readonly CommittedAppend[]): CommitSegment[] {
  const bySegment = new Map<string, { subject: string; baseOffset: number; records: LogRecord[] }>();
  for (const a of appends) {
    const key = `${a.segmentBase}@${a.record.subject}`;
    let segment = bySegment.get(key);
    if (segment === undefined) {
      segment = { subject: a.record.subject, baseOffset: a.segmentBase, records: [] };
      bySegment.set(key, segment);
    }
    segment.records.push(a.record);
  }
  return [...bySegment.values()];
}

/** Writes the batch's records to the replica; undefined when the batch has none (metadata only). */
export function writeReplica(
  replica: ReplicaSettings | undefined,
  appends: readonly CommittedAppend[],
): Promise<void> | undefined {
  if (replica === undefined || appends.length === 0) return undefined;
  return replica.store.writeCommit(commitSegments(appends), replica.retentionMs);
}

/**
 * What a log's group commit writes beside LevelDB, to stores the cluster shares: the id reservations (when it has
 * a store) and, acks replicated, the records; and the gate (a cluster member's lease) asked before any is written.
 */
export function sharedWrites(options: {
  readonly idReservations?: IdReservations;
  readonly partition?: number;
  readonly idReservationChunk?: number;
  readonly replica?: ReplicaSettings;
  readonly writeGate?: WriteGate;
}): { reserver: IdReserver | undefined; replica: ReplicaSettings | undefined; writeGate: WriteGate | undefined } {
  return { reserver: createReserver(options), replica: options.replica, writeGate: options.writeGate };
}
