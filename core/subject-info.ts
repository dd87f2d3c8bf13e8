/** What the log knows about one subject. */
export interface SubjectInfo {
  readonly subject: string;
  /** First offset still stored locally (lastOffset + 1 when nothing is). */
  readonly firstOffset: number;
  /** Highest offset ever acknowledged (0 when nothing was ever published). Never goes down. */
  readonly lastOffset: number;
  readonly count: number;
  readonly bytes: number;
  readonly segments: number;
  readonly sealedSegments: number;
  readonly replicatedSegments: number;
}
