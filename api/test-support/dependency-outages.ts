// The dependency outages of issue 10 as reusable steps (the e2e tests assert on them, the fault suite tabulates
// them): a real broker child process, the real Redis or CQL server stopped and started with scripts/services.sh.
import { credentials, makeClientConstructor, type Client, type ServiceError } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import type { BrokerClient, SubjectInfo } from '../../proto/gen/broker.js';
import {
  randomKeyspace,
  randomQueueName,
  startCql,
  startRedis,
  stopCql,
  stopRedis,
  testCqlContactPoints,
  testCqlLocalDc,
  testRedisUrl,
} from '../../test-support/services.js';
import { fetchMessage, metricValue, publish, startBrokerProcess, type BrokerProcess } from './broker-process.js';

type HealthClient = Client & {
  check(req: { service: string }, cb: (err: ServiceError | null, res: { status: string }) => void): void;
};

/** The health status of one service of the broker's grpc.health.v1.Health ('SERVING', 'NOT_SERVING', ...). */
export async function healthStatus(address: string, service: string): Promise<string> {
  const Health = makeClientConstructor(healthService, 'grpc.health.v1.Health');
  const client = new Health(address, credentials.createInsecure()) as unknown as HealthClient;
  try {
    return await new Promise<string>((resolve, reject) =>
      client.check({ service }, (err, res) => (err ? reject(err) : resolve(res.status))),
    );
  } finally {
    client.close();
  }
}

export function getSubject(client: BrokerClient, subject: string): Promise<SubjectInfo> {
  return new Promise((resolve, reject) => client.getSubject({ subject }, (e, r) => (e ? reject(e) : resolve(r))));
}

/** Polls `probe` until it returns a value other than undefined; resolves with it and the ms it took. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return { value, ms: Date.now() - started };
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export interface RedisOutageResult {
  /** GetSubject's first id before and after compaction ran with Redis down. */
  readonly firstIdBefore: number;
  readonly firstIdAfter: number;
  /** From the records' expiry to compaction removing them, with Redis down, ms. */
  readonly compactedAfterMs: number;
  readonly exitCode: number | null;
  readonly shutdownMs: number;
  /** The documented bound: BROKER_SHUTDOWN_TIMEOUT + 2 s. */
  readonly shutdownDeadlineMs: number;
}

const SHUTDOWN_TIMEOUT_MS = 2000;

/**
 * Redis stopped under a broker using it: records that expire while it is away must still be compacted (the runner
 * falls back to in-process scheduling), and SIGTERM must exit 0 within BROKER_SHUTDOWN_TIMEOUT + 2 s. Redis is
 * started again whatever happens.
 */
export async function redisOutage(): Promise<RedisOutageResult> {
  const broker = await startBrokerProcess({
    REDIS_URL: testRedisUrl(),
    BROKER_QUEUE_PREFIX: randomQueueName('outage'),
    BROKER_ID: 'redis-outage',
    BROKER_COMPACTION_INTERVAL: '500ms',
    BROKER_SEGMENT_MAX_RECORDS: '5',
    BROKER_SHUTDOWN_TIMEOUT: `${SHUTDOWN_TIMEOUT_MS}ms`,
  });
  try {
    await stopRedis();
    try {
      const client = broker.client();
      // Two sealed segments of records that expire in 1 s, and one that stays (the open segment).
      for (let i = 0; i < 10; i++) await publish(client, 'outage.redis', `short ${i}`, 1);
      await publish(client, 'outage.redis', 'stays');
      const firstIdBefore = (await getSubject(client, 'outage.redis')).firstId;
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const compacted = await waitFor(
        'compaction with Redis down',
        async () => {
          const info = await getSubject(client, 'outage.redis');
          return info.firstId > 10 ? info.firstId : undefined;
        },
        20_000,
      );
      const started = Date.now();
      const exitCode = await broker.stop('SIGTERM');
      return {
        firstIdBefore,
        firstIdAfter: compacted.value,
        compactedAfterMs: compacted.ms,
        exitCode,
        shutdownMs: Date.now() - started,
        shutdownDeadlineMs: SHUTDOWN_TIMEOUT_MS + 2000,
      };
    } finally {
      await startRedis();
    }
  } finally {
    await broker.dispose();
  }
}

export interface ColdTierOutageResult {
  /** While the CQL server was down: what Fetch of a local record returned, the health and the gauge. */
  readonly fetchedWhileDown: string;
  readonly healthWhileDown: string;
  readonly gaugeWhileDown: number | undefined;
  readonly replicatedWhileDown: number;
  /** Sealed segments published while it was down, and how many GetSubject says were replicated once it was back. */
  readonly sealed: number;
  readonly replicatedAfter: number;
  readonly healthAfter: string;
  readonly gaugeAfter: number | undefined;
  /** From the CQL server answering again to every sealed segment replicated, ms. */
  readonly catchUpMs: number;
}

const COLD_TIER = 'broker.ColdTier';

/**
 * A broker started while its CQL server (Scylla) is down: it must start, serve the local log and report the cold
 * tier degraded; once the server is back, replication catches up and the cold tier reports up. The CQL server is
 * started again whatever happens.
 */
export async function coldTierOutage(): Promise<ColdTierOutageResult> {
  await stopCql();
  let broker: BrokerProcess | undefined;
  try {
    broker = await startBrokerProcess({
      SCYLLA_CONTACT_POINTS: testCqlContactPoints().join(','),
      SCYLLA_LOCAL_DC: testCqlLocalDc(),
      SCYLLA_KEYSPACE: randomKeyspace('cold_outage'),
      BROKER_COMPACTION_INTERVAL: '1s',
      BROKER_SEGMENT_MAX_RECORDS: '5',
    });
    const b = broker;
    const client = b.client();
    for (let i = 1; i <= 11; i++) await publish(client, 'outage.cold', `record ${i}`);
    const fetchedWhileDown = (await fetchMessage(client, 'outage.cold', 1)).body.toString();
    const healthWhileDown = await healthStatus(b.address, COLD_TIER);
    const gaugeWhileDown = metricValue(await b.metrics(), 'broker_cold_tier_up');
    const infoWhileDown = await getSubject(client, 'outage.cold');
    await startCql();
    const caughtUp = await waitFor(
      'replication to catch up',
      async () => {
        const info = await getSubject(client, 'outage.cold');
        return info.replicatedSegments >= 2 ? info : undefined;
      },
      180_000,
    );
    return {
      fetchedWhileDown,
      healthWhileDown,
      gaugeWhileDown,
      replicatedWhileDown: infoWhileDown.replicatedSegments,
      sealed: infoWhileDown.sealedSegments,
      replicatedAfter: caughtUp.value.replicatedSegments,
      healthAfter: await healthStatus(b.address, COLD_TIER),
      gaugeAfter: metricValue(await b.metrics(), 'broker_cold_tier_up'),
      catchUpMs: caughtUp.ms,
    };
  } finally {
    await startCql();
    await broker?.dispose();
  }
}
