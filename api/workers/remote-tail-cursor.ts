import { cursorBatches, InvalidIdError, type LogRecord, type TailCursor } from '../../core/index.js';
import type { OwnerCalls } from './owner-calls.js';
import type { SharedUpstream } from './shared-upstream.js';
import { toLogRecord } from './wire-record.js';

const DEFAULT_BATCH = 512;
/**
 * A page read from the owner belongs to one cursor and its subscriber holds it until its stream has taken every
 * record, so it is as small as the local log's disk batch (log/tail-cursor.ts STORED_BATCH), for the same reason.
 */
export const FETCH_PAGE_RECORDS = 64;

/**
 * One local subscriber's position in a subject another worker owns. Near the head it reads the subject's shared
 * upstream cache (shared objects); behind it (a replay, or a subscriber that fell behind the cache) it reads pages
 * from the owner with FetchRange until it joins the cache. Positions are ids: the owner skips expired ids, and the
 * cursor follows where the owner's answers say to resume.
 */
export class RemoteTailCursor implements TailCursor {
  lastBatchShared = false;
  private closed = false;
  private waking: (() => void) | undefined;
  /** Aborts a FetchRange in flight, or its wait for a restarting owner, when the cursor closes. */
  private readonly closing = new AbortController();

  constructor(
    private readonly upstream: SharedUpstream,
    public position: number,
    private readonly calls: OwnerCalls,
  ) {
    upstream.attach();
  }

  get subject(): string {
    return this.upstream.subject;
  }

  lag(): number {
    return Math.max(0, this.upstream.newestId - this.position + 1);
  }

  async next(maxRecords = DEFAULT_BATCH): Promise<readonly LogRecord[]> {
    for (;;) {
      if (this.closed) return [];
      const upstream = this.upstream;
      if (upstream.failure !== undefined) throw upstream.failure;
      if (!upstream.isOpen) return [];
      const read = upstream.read(this.position, maxRecords);
      if (read.kind === 'wait') {
        await this.waitForRecords();
        continue;
      }
      const batch = read.kind === 'records' ? this.fromCache(read.records) : await this.fromOwner(maxRecords);
      if (batch.length > 0) return batch;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.waking?.();
    this.closing.abort();
    this.upstream.detach();
  }

  [Symbol.asyncIterator](): AsyncIterator<readonly LogRecord[]> {
    return cursorBatches(this);
  }

  private fromCache(records: LogRecord[]): LogRecord[] {
    const last = records[records.length - 1];
    if (last !== undefined) this.position = last.offset + 1;
    this.lastBatchShared = true;
    return records;
  }

  /** One page from the owner at the position; empty when the cursor closed or the page held only expired ids. */
  private async fromOwner(maxRecords: number): Promise<LogRecord[]> {
    const from = this.position;
    const page = await this.calls.page(
      this.subject,
      from,
      Math.min(maxRecords, FETCH_PAGE_RECORDS),
      this.closing.signal,
    );
    if (page === undefined || this.closed) return [];
    this.upstream.noteOwnerLast(page.lastId);
    if (page.nextId > from) this.position = page.nextId;
    // Nothing is stored in [from, lastId]: compaction removed it, so the ids jump (as the local cursor's do).
    else if (page.lastId >= from) this.position = page.lastId + 1;
    // The owner has no id at or after one older than records it already delivered: its ids went backwards.
    else throw new InvalidIdError(this.subject, from, `from_id is beyond the next id ${page.lastId + 1}`);
    this.lastBatchShared = false;
    return page.messages.map(toLogRecord);
  }

  private async waitForRecords(): Promise<void> {
    await new Promise<void>((resolve) => {
      const remove = this.upstream.onAppend(resolve);
      this.waking = () => {
        remove();
        resolve();
      };
    });
    this.waking = undefined;
  }
}
