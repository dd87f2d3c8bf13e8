/** What one compaction pass did. */
export interface CompactionResult {
  /** Idle active segments sealed (by age). */
  segmentsSealed: number;
  /** Segments deleted because every record in them had expired. */
  segmentsExpired: number;
  /** Replicated segments dropped from the local disk by a local retention limit (still served from the cold tier). */
  segmentsDroppedLocally: number;
  /** Partly expired segments whose expired records were deleted. */
  segmentsTrimmed: number;
  recordsDeleted: number;
  bytesDeleted: number;
  /**
   * Sealed segments left untrimmed because a record in them failed its checksum (DATA_LOSS): one damaged record must
   * not stop compaction of everything else; the damage is the log's to report, and the segment still expires whole.
   */
  segmentsDamaged: number;
  /** Idempotency keys deleted because their dedupe window had ended. */
  idempotencyKeysExpired: number;
}

export function emptyCompactionResult(): CompactionResult {
  return {
    segmentsSealed: 0,
    segmentsExpired: 0,
    segmentsDroppedLocally: 0,
    segmentsTrimmed: 0,
    recordsDeleted: 0,
    bytesDeleted: 0,
    segmentsDamaged: 0,
    idempotencyKeysExpired: 0,
  };
}
