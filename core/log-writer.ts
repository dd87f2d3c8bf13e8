import type { AppendInput } from './record.js';

/**
 * The write side of the log: it owns offset assignment and durability (an append resolves once it is in the log,
 * group-committed with others). It excludes validation of client input (done at the edge) and reads.
 */
export interface LogWriter {
  /** Appends one record; resolves with its offset once it is durably in the log (group-committed with others). */
  append(input: AppendInput): Promise<number>;
  /** Appends several records to one subject in one go; resolves with their offsets, consecutive, in input order. */
  appendMany(inputs: readonly AppendInput[]): Promise<number[]>;
  /**
   * Appends records to any subjects atomically: every one or none is written (one storage write, also across
   * subjects, whatever their states are doing). Each subject's records get consecutive offsets in input order, and
   * the offsets resolve in input order. Inputs with idempotency keys are deduplicated each, as `append` does.
   * A log split into partitions (log/partitions/) is atomic within each partition only: one write per partition.
   */
  appendBatch(inputs: readonly AppendInput[]): Promise<number[]>;
}
