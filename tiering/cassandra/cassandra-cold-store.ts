import cassandra from 'cassandra-driver';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import {
  ConfigError,
  SCYLLA_CONSISTENCIES,
  UnavailableError,
  checkCqlReplication,
  cqlRefusal,
  expiresAtMs,
  segmentExpiresAtMs,
  type ColdStore,
  type CommitSegment,
  type CqlSecurity,
  type LogRecord,
  type ReadLimits,
  type ScyllaConsistency,
  type SegmentInfo,
  checkKeyspace,
} from '../../core/index.js';
import { checkRecordInSegment } from '../record-in-segment.js';
import { recordRow, writeCommitRows } from './commit-writer.js';
import { ColdStoreMetrics } from './cold-store-metrics.js';
import { createSchema } from './cql-schema.js';
import { CASSANDRA_4_EXPIRY_LIMIT_MS, ttlSeconds } from './ttl.js';

/** cassandra-driver's names of the consistency levels (core's SCYLLA_CONSISTENCY values). */
export type CqlConsistency = ScyllaConsistency;

export interface CassandraColdStoreOptions {
  /** host:port of CQL nodes (ScyllaDB in production, Cassandra in tests). */
  readonly contactPoints: readonly string[];
  /** The driver's local data center. @defaultValue 'datacenter1' (from the broker config) */
  readonly localDataCenter: string;
  /** CQL credentials and TLS (SCYLLA_USERNAME, SCYLLA_PASSWORD, SCYLLA_TLS_CA through cqlSecurity). @defaultValue none */
  readonly security?: CqlSecurity;
  /** Created at start if missing; lower case, at most 48 characters. */
  readonly keyspace: string;
  /** Replication factor of the keyspace, used only when the store creates it (SimpleStrategy). @defaultValue 1 */
  readonly replicationFactor: number;
  /** SCYLLA_REPLICATION: the keyspace's CQL replication map when the store creates it, instead of the factor. */
  readonly replication?: string | undefined;
  /** Consistency of every write and read. @defaultValue 'localQuorum' */
  readonly consistency: CqlConsistency;
  /** Row writes in flight per segment copy. @defaultValue 64 */
  readonly concurrency: number;
  /** Where the write metrics go; none when absent. */
  readonly registry?: Registry;
  readonly logger?: Logger;
  /** The clock for TTLs, ms since the epoch (tests inject one). @defaultValue Date.now */
  readonly now?: () => number;
  /** How long a statement may take before the driver gives up, ms. @defaultValue 12000 */
  readonly readTimeoutMs?: number;
  /**
   * No row is given an expiry later than this, ms since the epoch (its TTL is cut to reach it). Cassandra 4, and
   * Cassandra 5 in storage_compatibility_mode CASSANDRA_4, refuse expiries after 2038-01-19; ScyllaDB and
   * Cassandra 5 in mode NONE may set Infinity. @defaultValue CASSANDRA_4_EXPIRY_LIMIT_MS (2038-01-18)
   */
  readonly expiryLimitMs?: number;
}

/** One row of the segments table: a segment the cold tier holds completely. */
export interface ColdSegment {
  readonly subject: string;
  readonly baseOffset: number;
  readonly lastOffset: number;
  /** Rows written (records already expired at copy time are not). */
  readonly count: number;
  readonly bytes: number;
}

const DEFAULT_READ_TIMEOUT_MS = 12_000;
/** Rows fetched per page on range reads, so a read with a small limit never pulls a whole partition. */
const MAX_PAGE_ROWS = 500;

function checkOptions(o: CassandraColdStoreOptions): void {
  if (o.contactPoints.length === 0)
    throw new ConfigError('contactPoints', 'the cold store needs at least one CQL contact point, got none');
  checkKeyspace(o.keyspace);
  if (!Number.isInteger(o.replicationFactor) || o.replicationFactor < 1)
    throw new ConfigError('replicationFactor', `must be an integer >= 1, got ${o.replicationFactor}`);
  if (o.replication !== undefined) checkCqlReplication(o.replication);
  if (!Number.isInteger(o.concurrency) || o.concurrency < 1)
    throw new ConfigError('concurrency', `must be an integer >= 1, got ${o.concurrency}`);
  if (!SCYLLA_CONSISTENCIES.includes(o.consistency))
    throw new ConfigError(
      'consistency',
      `must be one of ${SCYLLA_CONSISTENCIES.join(', ')}, got "${String(o.consistency)}"`,
    );
}

/**
 * The cold tier on ScyllaDB (any CQL server) through cassandra-driver. Two tables (see README.md):
 * records ((subject, segment_base), offset) holds one row per record with its remaining TTL; segments (subject,
 * base_offset DESC) gets a segment's row only after all its record rows are acknowledged, so a segment row means
 * "complete", and `base_offset <= ? LIMIT 1` finds the segment holding an offset in one query.
 */
export class CassandraColdStore implements ColdStore {
  private readonly metrics: ColdStoreMetrics;
  private readonly consistency: number;
  private readonly now: () => number;
  private readonly ks: string;
  private readonly expiryLimitMs: number;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly client: cassandra.Client,
    private readonly options: CassandraColdStoreOptions,
  ) {
    this.consistency = cassandra.types.consistencies[options.consistency];
    this.now = options.now ?? Date.now;
    this.ks = options.keyspace;
    this.expiryLimitMs = options.expiryLimitMs ?? CASSANDRA_4_EXPIRY_LIMIT_MS;
    this.metrics = new ColdStoreMetrics(options.registry);
  }

  /** Connects, creates the keyspace and tables if missing and waits for schema agreement. */
  static async open(options: CassandraColdStoreOptions, client?: cassandra.Client): Promise<CassandraColdStore> {
    checkOptions(options);
    const cql =
      client ??
      new cassandra.Client({
        contactPoints: [...options.contactPoints],
        localDataCenter: options.localDataCenter,
        ...options.security,
        pooling: { coreConnectionsPerHost: { [cassandra.types.distance.local]: 2 } },
        socketOptions: { connectTimeout: 5000, readTimeout: options.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS },
        queryOptions: { prepare: true, consistency: cassandra.types.consistencies[options.consistency] },
        // Back within seconds of a CQL outage (the driver's default backs off to 10 minutes).
        policies: {
          reconnection: new cassandra.policies.reconnection.ExponentialReconnectionPolicy(500, 10_000, false),
        },
      });
    const where = options.contactPoints.join(',');
    try {
      await cql.connect();
      await createSchema(cql, options.keyspace, options.replicationFactor, options.replication);
    } catch (err) {
      await cql.shutdown().catch(() => undefined);
      if (err instanceof UnavailableError) throw err;
      throw (
        cqlRefusal(err, 'cold store') ??
        new UnavailableError(
          `cold store: cannot open keyspace ${options.keyspace} on the CQL server at ${where}: ${(err as Error).message}`,
          { cause: err },
        )
      );
    }
    options.logger?.info(
      { contactPoints: where, keyspace: options.keyspace, consistency: options.consistency },
      'cold store open',
    );
    return new CassandraColdStore(cql, options);
  }

  async writeSegment(
    segment: SegmentInfo,
    records: AsyncIterable<LogRecord[]>,
    retentionMs: number,
  ): Promise<{ rows: number; bytes: number }> {
    const inFlight = new Set<Promise<void>>();
    let failure: { error: unknown } | undefined;
    let rows = 0;
    let bytes = 0;
    let latestExpiry = segmentExpiresAtMs(segment, retentionMs);
    try {
      outer: for await (const batch of records) {
        const now = this.now();
        for (const r of batch) {
          checkRecordInSegment(segment, r);
          const expiry = expiresAtMs(r.publishedAtMs, r.expirationSeconds, retentionMs);
          const ttl = ttlSeconds(expiry, now, this.expiryLimitMs);
          if (ttl === undefined) continue;
          latestExpiry = Math.max(latestExpiry, expiry);
          while (inFlight.size >= this.options.concurrency) await Promise.race(inFlight);
          if (failure !== undefined) break outer;
          const write: Promise<void> = this.insertRow(segment.baseOffset, r, ttl)
            .then(
              () => {
                rows += 1;
                bytes += r.body.byteLength;
              },
              (error: unknown) => {
                failure ??= { error };
              },
            )
            .finally(() => inFlight.delete(write));
          inFlight.add(write);
        }
      }
    } finally {
      // Never leave writes running behind a rejection: the caller may retry the segment at once.
      await Promise.all(inFlight);
    }
    if (failure !== undefined) {
      const cause = failure.error as Error;
      throw new UnavailableError(
        `cold store: writing segment ${segment.subject}@${segment.baseOffset} failed after ${rows} rows: ${cause.message}`,
        { cause },
      );
    }
    // Written last, and only when rows were: the segment row is what makes the copy readable.
    if (rows > 0) await this.writeSegmentRow(segment, rows, bytes, latestExpiry);
    this.options.logger?.debug(
      { subject: segment.subject, baseOffset: segment.baseOffset, rows, bytes },
      'segment copied to the cold tier',
    );
    return { rows, bytes };
  }

  writeCommit(segments: readonly CommitSegment[], retentionMs: number): Promise<void> {
    return writeCommitRows(this.client, segments, {
      keyspace: this.ks,
      consistency: this.consistency,
      retentionMs,
      now: this.now(),
      expiryLimitMs: this.expiryLimitMs,
      concurrency: this.options.concurrency,
    });
  }

  /** One record row with its TTL (0: none), timed into the write metrics once acknowledged. */
  private async insertRow(segmentBase: number, r: LogRecord, ttl: number): Promise<void> {
    const started = process.hrtime.bigint();
    const row = recordRow(this.ks, segmentBase, r, ttl);
    await this.client.execute(row.query, row.params, {
      prepare: true,
      consistency: this.consistency,
      isIdempotent: true,
    });
    this.metrics.rowWritten(Number(process.hrtime.bigint() - started) / 1e9, r.body.byteLength);
  }

  /** The segment's row, written last; its TTL is that of its longest-lived record. */
  private async writeSegmentRow(segment: SegmentInfo, rows: number, bytes: number, expiresAt: number): Promise<void> {
    const ttl = ttlSeconds(expiresAt, this.now(), this.expiryLimitMs) ?? 1;
    try {
      await this.client.execute(
        `INSERT INTO ${this.ks}.segments (subject, base_offset, last_offset, count, bytes) VALUES (?, ?, ?, ?, ?) USING TTL ?`,
        [segment.subject, segment.baseOffset, segment.lastOffset, rows, bytes, ttl],
        { prepare: true, consistency: this.consistency, isIdempotent: true },
      );
    } catch (err) {
      throw new UnavailableError(
        `cold store: writing the segment row ${segment.subject}@${segment.baseOffset} failed: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  /** The complete segment holding `offset`, if the cold tier has one (the segment index lookup). */
  async segmentContaining(subject: string, offset: number): Promise<ColdSegment | undefined> {
    const rs = await this.query(
      `SELECT base_offset, last_offset, count, bytes FROM ${this.ks}.segments WHERE subject = ? AND base_offset <= ? LIMIT 1`,
      [subject, offset],
    );
    const row = rs.first();
    if (row === null) return undefined;
    const segment = toSegment(subject, row);
    return segment.lastOffset >= offset ? segment : undefined;
  }

  /** The segment holding `offset`, else the first one after it. */
  private async segmentFrom(subject: string, offset: number): Promise<ColdSegment | undefined> {
    const holding = await this.segmentContaining(subject, offset);
    if (holding !== undefined) return holding;
    const rs = await this.query(
      `SELECT base_offset, last_offset, count, bytes FROM ${this.ks}.segments WHERE subject = ? AND base_offset > ? ORDER BY base_offset ASC LIMIT 1`,
      [subject, offset],
    );
    const row = rs.first();
    return row === null ? undefined : toSegment(subject, row);
  }

  async get(subject: string, offset: number): Promise<LogRecord | undefined> {
    const segment = await this.segmentContaining(subject, offset);
    if (segment === undefined) return undefined;
    const rs = await this.query(
      `SELECT offset, published_at_ms, expiration_seconds, body FROM ${this.ks}.records WHERE subject = ? AND segment_base = ? AND offset = ?`,
      [subject, segment.baseOffset, offset],
    );
    const row = rs.first();
    return row === null ? undefined : toRecord(subject, row);
  }

  async readRange(subject: string, fromOffset: number, beforeOffset: number, limits: ReadLimits): Promise<LogRecord[]> {
    const out: LogRecord[] = [];
    let bytes = 0;
    let from = fromOffset;
    while (from < beforeOffset && out.length < limits.maxRecords) {
      const segment = await this.segmentFrom(subject, from);
      if (segment === undefined || segment.baseOffset >= beforeOffset) break;
      const select = `SELECT offset, published_at_ms, expiration_seconds, body FROM ${this.ks}.records WHERE subject = ? AND segment_base = ? AND offset >= ? AND offset < ?`;
      const params = [
        subject,
        segment.baseOffset,
        Math.max(from, segment.baseOffset),
        Math.min(beforeOffset, segment.lastOffset + 1),
      ];
      let pageState: string | undefined;
      do {
        const fetchSize = Math.min(limits.maxRecords - out.length, MAX_PAGE_ROWS);
        const rs = await this.query(select, params, { fetchSize, ...(pageState === undefined ? {} : { pageState }) });
        for (const row of rs.rows) {
          const record = toRecord(subject, row);
          if ((out.length > 0 && bytes + record.body.byteLength > limits.maxBytes) || out.length >= limits.maxRecords)
            return out;
          out.push(record);
          bytes += record.body.byteLength;
        }
        pageState = rs.pageState ?? undefined;
      } while (pageState !== undefined && out.length < limits.maxRecords);
      from = segment.lastOffset + 1;
    }
    return out;
  }

  private async query(
    cql: string,
    params: unknown[],
    extra: { fetchSize?: number; pageState?: string } = {},
  ): Promise<cassandra.types.ResultSet> {
    try {
      return await this.client.execute(cql, params, {
        prepare: true,
        consistency: this.consistency,
        isIdempotent: true,
        ...extra,
      });
    } catch (err) {
      throw new UnavailableError(`cold store: read failed: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Closes the driver's connections; idempotent. */
  close(): Promise<void> {
    this.closing ??= this.client.shutdown();
    return this.closing;
  }
}

function toNumber(value: unknown): number {
  // null: a count or bytes never written (a segment row only a replicated commit has written so far).
  if (value === null || value === undefined) return 0;
  return typeof value === 'number' ? value : (value as cassandra.types.Long).toNumber();
}

function toSegment(subject: string, row: cassandra.types.Row): ColdSegment {
  return {
    subject,
    baseOffset: toNumber(row.get('base_offset')),
    lastOffset: toNumber(row.get('last_offset')),
    count: toNumber(row.get('count')),
    bytes: toNumber(row.get('bytes')),
  };
}

function toRecord(subject: string, row: cassandra.types.Row): LogRecord {
  return {
    subject,
    offset: toNumber(row.get('offset')),
    publishedAtMs: toNumber(row.get('published_at_ms')),
    expirationSeconds: row.get('expiration_seconds') as number,
    body: row.get('body') as Buffer,
  };
}

/** Opens the cold store (see CassandraColdStore.open). */
export function openCassandraColdStore(options: CassandraColdStoreOptions): Promise<CassandraColdStore> {
  return CassandraColdStore.open(options);
}
