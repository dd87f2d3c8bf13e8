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
}
