import type { ColdStore, Log, LogRecord, LookupResult, ReadLimits, TailCursor } from '../../core/index.js';

/**
 * The local log with the cold tier behind it, as Kafka's tiered storage: offsets that local retention removed are
 * read from the cold store, so the local disk bounds only the hot data. Everything else is the local log's.
 */
export function createTieredLog(local: Log, cold: ColdStore): Log {
  const tiered: Log = Object.create(local) as Log;

  tiered.get = async (subject: string, offset: number): Promise<LookupResult> => {
    const found = await local.get(subject, offset);
    if (found.kind !== 'removed') return found;
    const record = await cold.get(subject, offset);
    return record === undefined ? found : { kind: 'record', record };
  };

  tiered.readRange = async (subject: string, fromOffset: number, limits: ReadLimits): Promise<LogRecord[]> => {
    const info = await local.subjectInfo(subject);
    if (info === undefined || fromOffset >= info.firstOffset) return local.readRange(subject, fromOffset, limits);
    const older = await cold.readRange(subject, fromOffset, info.firstOffset, limits);
    const bytes = older.reduce((n, r) => n + r.body.length, 0);
    if (older.length >= limits.maxRecords || (older.length > 0 && bytes >= limits.maxBytes)) return older;
    const newer = await local.readRange(subject, info.firstOffset, { maxRecords: limits.maxRecords - older.length, maxBytes: Math.max(1, limits.maxBytes - bytes) });
    return older.length > 0 && newer.length > 0 && bytes + (newer[0]?.body.length ?? 0) > limits.maxBytes ? older : [...older, ...newer];
  };

  tiered.tail = async (subject: string, from: number | 'live'): Promise<TailCursor> => {
    const info = await local.subjectInfo(subject);
    if (from === 'live' || info === undefined || from >= info.firstOffset) return local.tail(subject, from);
    return new ColdThenLocalCursor(subject, from, info.firstOffset, cold, await local.tail(subject, info.firstOffset));
  };

  // Methods that use `this` internally must run on the real log, not on the prototype wrapper.
  for (const name of ['append', 'appendMany', 'subjectInfo', 'listSubjects', 'segments', 'allSegments', 'unreplicatedSegments', 'readSegment', 'markReplicated', 'sealStaleSegments', 'onSegmentSealed', 'deleteSegment', 'deleteRecords', 'close'] as const) {
    const method = local[name] as (...args: unknown[]) => unknown;
    (tiered as unknown as Record<string, unknown>)[name] = method.bind(local);
  }
  return tiered;
}

/** Replays [from, localFirst) from the cold tier, then hands over to a local cursor opened at localFirst. */
class ColdThenLocalCursor implements TailCursor {
  private coldPosition: number;

  constructor(
    readonly subject: string,
    from: number,
    private readonly localFirst: number,
    private readonly cold: ColdStore,
    private readonly local: TailCursor,
  ) {
    this.coldPosition = from;
  }

  get position(): number {
    return this.coldPosition < this.localFirst ? this.coldPosition : this.local.position;
  }

  lag(): number {
    return this.local.lag() + Math.max(0, this.localFirst - this.coldPosition);
  }

  async next(maxRecords = 512): Promise<readonly LogRecord[]> {
    while (this.coldPosition < this.localFirst) {
      const batch = await this.cold.readRange(this.subject, this.coldPosition, this.localFirst, { maxRecords, maxBytes: 4 * 1024 * 1024 });
      if (batch.length === 0) {
        this.coldPosition = this.localFirst;
        break;
      }
      this.coldPosition = batch[batch.length - 1]!.offset + 1;
      return batch;
    }
    return this.local.next(maxRecords);
  }

  close(): void {
    this.coldPosition = this.localFirst;
    this.local.close();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<readonly LogRecord[]> {
    try {
      for (;;) {
        const batch = await this.next();
        if (batch.length === 0) return;
        yield batch;
      }
    } finally {
      this.close();
    }
  }
}
