/** How much one read may return. */
export interface ReadLimits {
  /** At most this many records. */
  readonly maxRecords: number;
  /** Stop once this many body bytes are read (at least one record is always returned if there is one). */
  readonly maxBytes: number;
}
