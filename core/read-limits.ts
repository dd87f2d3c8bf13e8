/** How much one read may return. */
export interface ReadLimits {
  /** At most this many records. */
  readonly maxRecords: number;
  /** Stop once this many body bytes are read (at least one record is always returned if there is one). */
  readonly maxBytes: number;
  /**
   * The caller gave up (its client cancelled or its deadline passed): the read stops at its next batch boundary and
   * returns what it has, a shorter page. Absent: the read runs to its limits.
   */
  readonly signal?: AbortSignal;
}
