import cassandra from 'cassandra-driver';
import type { Logger } from 'pino';
import { Counter, Histogram, type Registry } from 'prom-client';
import {
  NEVER,
  UnavailableError,
  expiresAtMs,
  segmentExpiresAtMs,
  type ColdStore,
  type LogRecord,
  type ReadLimits,
  type SegmentInfo,
} from '../../core/index.js';

export type CqlConsistency = 'one' | 'localOne' | 'localQuorum' | 'quorum' | 'all';

export interface CassandraColdStoreOptions {
  /** host:port of CQL nodes (ScyllaDB, or Cassandra in tests). */
  readonly contactPoints: readonly string[];
  readonly localDataCenter: string;
  /** Created at start if missing. */
  readonly keyspace: string;
  /** Used only when the broker creates the keyspace. @defaultValue 1 */
  readonly replicationFactor: number;
  /** Consistency of writes and reads. @defaultValue 'localQuorum' */
  readonly consistency: CqlConsistency;
  /** Row writes in flight per segment copy. @defaultValue 64 */
  readonly concurrency: number;
  readonly registry?: Registry;
  readonly logger?: Logger;
  /** The clock, for TTLs (tests inject one). */
  readonly now?: () => number;
}

/** Cassandra refuses TTLs above 20 years. */
const MAX_TTL_SECONDS = 20 * 365 * 24 * 3600;

/** Seconds a row should live to expire with its record; 0 = no TTL; undefined = already expired (not written). */
export function ttlSeconds(expiresAt: number, nowMs: number): number | undefined {
  if (expiresAt === NEVER) return 0;
  const left = Math.ceil((expiresAt - nowMs) / 1000);
  if (left <= 0) return undefined;
  return Math.min(left, MAX_TTL_SECONDS);
}

/**
 * The cold tier on ScyllaDB (any CQL server) through cassandra-driver. Two tables:
 * records ((subject, segment_base), id) holds the rows, each with its record's remaining TTL; segments (subject,
 * base_offset DESC) is written only after all of a segment's rows are acknowledged, so a segment row means "complete"
 * and finds the segment that holds an offset in one query.
 */
export class CassandraColdStore implements ColdStore {
  private readonly writeLatency: Histogram | undefined;
  private readonly rowsWritten: Counter | undefined;
  private readonly bytesWritten: Counter | undefined;
  private readonly consistency: number;
  private readonly now: () => number;

  private constructor(
    private readonly client: cassandra.Client,
    private readonly options: CassandraColdStoreOptions,
  ) {
    this.consistency = cassandra.types.consistencies[options.consistency];
    this.now = options.now ?? Date.now;
    const registers = options.registry === undefined ? undefined : [options.registry];
    if (registers !== undefined) {
      this.writeLatency = new Histogram({ name: 'broker_scylla_write_seconds', help: 'latency of one row write to the cold tier', buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers });
      this.rowsWritten = new Counter({ name: 'broker_scylla_rows_written_total', help: 'rows written to the cold tier', registers });
      this.bytesWritten = new Counter({ name: 'broker_scylla_bytes_written_total', help: 'body bytes written to the cold tier', registers });
    }
  }

  static async open(options: CassandraColdStoreOptions): Promise<CassandraColdStore> {
    const client = new cassandra.Client({
      contactPoints: [...options.contactPoints],
      localDataCenter: options.localDataCenter,
      pooling: { coreConnectionsPerHost: { [cassandra.types.distance.local]: 2 } },
      socketOptions: { connectTimeout: 5000, readTimeout: 12000 },
      queryOptions: { prepare: true },
    });
    try {
      await client.connect();
    } catch (err) {
      await client.shutdown().catch(() => undefined);
      throw new UnavailableError(`cannot reach the CQL server at ${options.contactPoints.join(',')}: ${(err as Error).message}`, { cause: err });
    }
    const store = new CassandraColdStore(client, options);
    await store.createSchema();
    return store;
  }

  private async createSchema(): Promise<void> {
    const ks = this.options.keyspace;
    const ddl = [
      `CREATE KEYSPACE IF NOT EXISTS ${ks} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': ${this.options.replicationFactor}}`,
      `CREATE TABLE IF NOT EXISTS ${ks}.records (subject text, segment_base bigint, id bigint, published_at_ms bigint, expiration_seconds int, body blob, PRIMARY KEY ((subject, segment_base), id)) WITH CLUSTERING ORDER BY (id ASC)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.segments (subject text, base_offset bigint, last_offset bigint, record_count bigint, bytes bigint, PRIMARY KEY (subject, base_offset)) WITH CLUSTERING ORDER BY (base_offset DESC)`,
    ];
    for (const statement of ddl) {
      await this.client.execute(statement, [], { prepare: false });
    }
  }

  async writeSegment(segment: SegmentInfo, records: AsyncIterable<LogRecord[]>, retentionMs: number): Promise<{ rows: number; bytes: number }> {
    const ks = this.options.keyspace;
    const insert = `INSERT INTO ${ks}.records (subject, segment_base, id, published_at_ms, expiration_seconds, body) VALUES (?, ?, ?, ?, ?, ?) USING TTL ?`;
    let rows = 0;
    let bytes = 0;
    for await (const batch of records) {
      const now = this.now();
      const work: Array<{ params: unknown[]; size: number }> = [];
      for (const r of batch) {
        const ttl = ttlSeconds(expiresAtMs(r.publishedAtMs, r.expirationSeconds, retentionMs), now);
        if (ttl === undefined) continue;
        work.push({ params: [r.subject, segment.baseOffset, r.offset, r.publishedAtMs, r.expirationSeconds, Buffer.from(r.body), ttl], size: r.body.length });
      }
      await this.runBounded(work, async ({ params, size }) => {
        const started = process.hrtime.bigint();
        await this.client.execute(insert, params, { prepare: true, consistency: this.consistency, isIdempotent: true });
        this.writeLatency?.observe(Number(process.hrtime.bigint() - started) / 1e9);
        this.rowsWritten?.inc();
        this.bytesWritten?.inc(size);
        rows += 1;
        bytes += size;
      });
    }
    const segmentTtl = ttlSeconds(segmentExpiresAtMs(segment, retentionMs), this.now());
    if (segmentTtl !== undefined) {
      await this.client.execute(
        `INSERT INTO ${ks}.segments (subject, base_offset, last_offset, record_count, bytes) VALUES (?, ?, ?, ?, ?) USING TTL ?`,
        [segment.subject, segment.baseOffset, segment.lastOffset, rows, bytes, segmentTtl],
        { prepare: true, consistency: this.consistency, isIdempotent: true },
      );
    }
    return { rows, bytes };
  }

  /** Runs `task` over `items` with at most options.concurrency in flight; the first failure rejects. */
  private async runBounded<T>(items: readonly T[], task: (item: T) => Promise<void>): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < items.length) {
        const item = items[next++]!;
        await task(item);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.options.concurrency, items.length) }, worker));
  }

  /** The segment holding `offset`, or the first one after it. */
  private async segmentAt(subject: string, offset: number): Promise<{ base: number; last: number } | undefined> {
    const ks = this.options.keyspace;
    const opts = { prepare: true, consistency: this.consistency };
    const holding = await this.client.execute(`SELECT base_offset, last_offset FROM ${ks}.segments WHERE subject = ? AND base_offset <= ? LIMIT 1`, [subject, offset], opts);
    const row = holding.first();
    if (row !== null && toNumber(row.get('last_offset')) >= offset) return { base: toNumber(row.get('base_offset')), last: toNumber(row.get('last_offset')) };
    const after = await this.client.execute(
      `SELECT base_offset, last_offset FROM ${ks}.segments WHERE subject = ? AND base_offset > ? ORDER BY base_offset ASC LIMIT 1`,
      [subject, offset],
      opts,
    );
    const next = after.first();
    return next === null ? undefined : { base: toNumber(next.get('base_offset')), last: toNumber(next.get('last_offset')) };
  }

  async get(subject: string, offset: number): Promise<LogRecord | undefined> {
    const segment = await this.segmentAt(subject, offset);
    if (segment === undefined || segment.base > offset) return undefined;
    const rs = await this.client.execute(
      `SELECT id, published_at_ms, expiration_seconds, body FROM ${this.options.keyspace}.records WHERE subject = ? AND segment_base = ? AND id = ?`,
      [subject, segment.base, offset],
      { prepare: true, consistency: this.consistency },
    );
    const row = rs.first();
    return row === null ? undefined : toRecord(subject, row);
  }

  async readRange(subject: string, fromOffset: number, beforeOffset: number, limits: ReadLimits): Promise<LogRecord[]> {
    const out: LogRecord[] = [];
    let bytes = 0;
    let from = fromOffset;
    while (from < beforeOffset && out.length < limits.maxRecords) {
      const segment = await this.segmentAt(subject, from);
      if (segment === undefined || segment.base >= beforeOffset) break;
      const rs = await this.client.execute(
        `SELECT id, published_at_ms, expiration_seconds, body FROM ${this.options.keyspace}.records WHERE subject = ? AND segment_base = ? AND id >= ? AND id < ? LIMIT ?`,
        [subject, segment.base, Math.max(from, segment.base), beforeOffset, limits.maxRecords - out.length],
        { prepare: true, consistency: this.consistency },
      );
      for (const row of rs.rows) {
        const record = toRecord(subject, row);
        if (out.length > 0 && bytes + record.body.length > limits.maxBytes) return out;
        out.push(record);
        bytes += record.body.length;
      }
      from = segment.last + 1;
    }
    return out;
  }

  async close(): Promise<void> {
    await this.client.shutdown();
  }
}

function toNumber(value: unknown): number {
  return typeof value === 'number' ? value : (value as cassandra.types.Long).toNumber();
}

function toRecord(subject: string, row: cassandra.types.Row): LogRecord {
  return {
    subject,
    offset: toNumber(row.get('id')),
    publishedAtMs: toNumber(row.get('published_at_ms')),
    expirationSeconds: row.get('expiration_seconds') as number,
    body: row.get('body') as Buffer,
  };
}

export function openCassandraColdStore(options: CassandraColdStoreOptions): Promise<CassandraColdStore> {
  return CassandraColdStore.open(options);
}
