// The hand-over half of `bench -- cluster-acks`: how long one partition answers no publish when its owner leaves.
//
// Each repetition starts a fresh cluster (--brokers members, BROKER_ACKS=replicated, the given BROKER_LEASE) on the
// CQL server, waits until every member holds partitions, and publishes to one subject through a member that does
// not own it (unary Publish, --handover-inflight calls at once, each retried at once after an error), so the calls
// are forwarded to the owner. After a steady second the owner is stopped: SIGTERM (it leaves, hands its partitions
// over and exits) or SIGKILL (its lease has to run out). Measured: the longest time without a successful ack from
// the event until 2 s after acks resumed once the owner was gone, the time from the event to that first ack, how
// long a SIGTERM'd owner took to hand over and exit, and the client's errors by gRPC code and reason.
import { credentials, Metadata, status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { failure, metricValue } from '../../api/test-support/broker-process.js';
import { BrokerClient, type SubjectInfo } from '../../proto/gen/broker.js';
import { countBy, firstAckAfter, formatCounts, longestGap, repetitions } from '../support/cluster-stats.js';
import { startBroker, type RunningBroker } from '../support/processes.js';
import type { ResultTable } from '../support/result.js';
import { limitVerdict } from '../support/verdict.js';
import { dropKeyspace, type CqlServer } from './replication.js';

export type HandoverKind = 'graceful' | 'kill';

export interface HandoverSettings {
  readonly server: CqlServer;
  readonly keyspace: string;
  readonly brokers: number;
  readonly leaseMs: number;
  readonly maxClockDriftMs: number;
  readonly inflight: number;
}

export interface HandoverRun {
  readonly kind: HandoverKind;
  readonly longestGapMs: number;
  /** From the event to the first ack once the owner is gone (the whole measured window when none came). */
  readonly firstAckMs: number;
  /** How long the owner took to exit: its hand-over for SIGTERM, 0 for SIGKILL. */
  readonly ownerExitMs: number;
  readonly acks: number;
  readonly errors: ReadonlyArray<[string, number]>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function call<T>(f: (cb: (err: ServiceError | null, res: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => f((err, res) => (err ? reject(err) : resolve(res))));
}

async function metrics(b: RunningBroker): Promise<string> {
  return (await fetch(`http://127.0.0.1:${b.metricsPort}/metrics`)).text();
}

/** Starts the members and waits until each holds a partition (placement has handed each its share). */
async function startCluster(s: HandoverSettings, cluster: string): Promise<Map<string, RunningBroker>> {
  const ids = Array.from({ length: s.brokers }, (_, i) => `b${i + 1}`);
  const started = await Promise.allSettled(
    ids.map((id) =>
      startBroker({
        BROKER_WORKERS: '1',
        BROKER_CLUSTER: cluster,
        BROKER_ID: id,
        BROKER_ACKS: 'replicated',
        BROKER_FSYNC: 'batch',
        BROKER_LEASE: `${s.leaseMs}ms`,
        BROKER_MAX_CLOCK_DRIFT: `${s.maxClockDriftMs}ms`,
        BROKER_METRICS_PORT: '0',
        SCYLLA_CONTACT_POINTS: s.server.contactPoints.join(','),
        SCYLLA_LOCAL_DC: s.server.localDataCenter,
        SCYLLA_KEYSPACE: s.keyspace,
      }),
    ),
  );
  const brokers = new Map<string, RunningBroker>();
  started.forEach((r, i) => r.status === 'fulfilled' && brokers.set(ids[i] ?? '', r.value));
  const failed = started.find((r) => r.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all([...brokers.values()].map((b) => b.stop()));
    throw failed.reason;
  }
  const deadline = Date.now() + 10 * s.leaseMs;
  for (;;) {
    const acquired = await Promise.all(
      [...brokers.values()].map(
        async (b) => metricValue(await metrics(b), 'broker_partition_moves_total{event="acquired"}') ?? 0,
      ),
    );
    if (acquired.every((n) => n > 0)) return brokers;
    if (Date.now() > deadline) {
      await Promise.all([...brokers.values()].map((b) => b.stop()));
      throw new Error(`the cluster did not settle: partitions acquired ${acquired.join(', ')}`);
    }
    await sleep(250);
  }
}

/** Publishes `inflight` unary calls at a time until stopped: the time of every ack, and every error. */
function publishLoad(client: BrokerClient, subject: string, inflight: number) {
  const acks: number[] = [];
  const errors: Array<{ at: number; key: string }> = [];
  let running = true;
  const body = randomBytes(1024);
  const loops = Array.from({ length: inflight }, async () => {
    while (running) {
      try {
        await call((cb) =>
          client.publish(
            { subject, body, expirationSeconds: 0 },
            new Metadata(),
            { deadline: Date.now() + 10_000 },
            cb,
          ),
        );
        acks.push(performance.now());
      } catch (err) {
        const f = failure(err);
        const code = grpcStatus[f.code] ?? String(f.code);
        errors.push({ at: performance.now(), key: f.reason && f.reason !== code ? `${code} ${f.reason}` : code });
        await sleep(10);
      }
    }
  });
  return {
    acks,
    errors,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** One cluster, one owner stopped under load. */
export async function handover(s: HandoverSettings, kind: HandoverKind): Promise<HandoverRun> {
  const cluster = `ho_${randomBytes(4).toString('hex')}`;
  const brokers = await startCluster(s, cluster);
  const clients = new Map(
    [...brokers].map(([id, b]) => [id, new BrokerClient(`127.0.0.1:${b.port}`, credentials.createInsecure())]),
  );
  try {
    const subject = `${cluster}.handover`;
    const any = [...clients.values()][0] as BrokerClient;
    // A partition may still be moving to its placed member a round after every member holds some: retried.
    for (let tries = 0; ; tries++) {
      try {
        await call((cb) => any.publish({ subject, body: Buffer.from('first'), expirationSeconds: 0 }, cb));
        break;
      } catch (err) {
        if (tries > 50) throw err;
        await sleep(200);
      }
    }
    const info = await call<SubjectInfo>((cb) => any.getSubject({ subject }, cb));
    const owner = brokers.get(info.owner);
    const via = [...clients].find(([id]) => id !== info.owner)?.[1];
    if (owner === undefined || via === undefined)
      throw new Error(`no owner or other member for ${subject}: "${info.owner}"`);
    const load = publishLoad(via, subject, s.inflight);
    await sleep(1500);
    const at = performance.now();
    // SIGTERM: stop() resolves once the member has handed over and exited, while the load goes on; acks of calls
    // it still took before that do not end the gap, so resumption is looked for after its exit.
    if (kind === 'kill') process.kill(owner.pid, 'SIGKILL');
    else await owner.stop();
    const gone = performance.now();
    const limit = gone + 6 * s.leaseMs + 10_000;
    while (firstAckAfter(load.acks, gone) === undefined && performance.now() < limit) await sleep(50);
    await sleep(2000);
    const end = performance.now();
    await load.stop();
    return {
      kind,
      longestGapMs: longestGap(load.acks, at, end),
      firstAckMs: (firstAckAfter(load.acks, gone) ?? end - gone) + (gone - at),
      ownerExitMs: gone - at,
      acks: load.acks.filter((t) => t >= at && t <= end).length,
      errors: countBy(load.errors.filter((e) => e.at >= at).map((e) => e.key)),
    };
  } finally {
    for (const c of clients.values()) c.close();
    await Promise.all([...brokers.values()].map((b) => b.stop()));
  }
}

/** `reps` repetitions of each kind, alternating (graceful, kill, graceful, ...), in one keyspace dropped after. */
export async function measureHandovers(s: HandoverSettings & { reps: number }): Promise<HandoverRun[]> {
  const runs: HandoverRun[] = [];
  try {
    for (let i = 0; i < s.reps; i++) {
      for (const kind of ['graceful', 'kill'] as const) {
        const r = await handover(s, kind);
        console.error(
          `  hand-over ${kind} #${i + 1}: longest gap ${r.longestGapMs.toFixed(0)} ms, acks back after ${r.firstAckMs.toFixed(0)} ms (owner exited after ${r.ownerExitMs.toFixed(0)} ms), errors ${formatCounts(r.errors)}`,
        );
        runs.push(r);
      }
    }
  } finally {
    await dropKeyspace(s.server, s.keyspace).catch(() => undefined);
  }
  return runs;
}

export function handoverTable(runs: readonly HandoverRun[], leaseMs: number, killBoundMs: number): ResultTable {
  const rows = (['graceful', 'kill'] as const).map((kind) => {
    const of = runs.filter((r) => r.kind === kind);
    const gap = repetitions(of.map((r) => r.longestGapMs));
    const first = repetitions(of.map((r) => r.firstAckMs));
    const exit = repetitions(of.map((r) => r.ownerExitMs));
    const errors = countBy(of.flatMap((r) => r.errors.flatMap(([k, n]) => Array<string>(n).fill(k))));
    const verdict =
      kind === 'kill'
        ? `max ${(gap.max / leaseMs).toFixed(2)}x the lease; under lease + drift + a round (${killBoundMs} ms): ${limitVerdict(gap.max, killBoundMs)}`
        : `max ${(gap.max / leaseMs).toFixed(2)}x the lease; under a lease: ${limitVerdict(gap.max, leaseMs)}`;
    return [
      kind === 'kill' ? 'kill -9 of the owner' : 'graceful (SIGTERM of the owner)',
      `${of.length}`,
      `${gap.p50.toFixed(0)} / ${gap.max.toFixed(0)}`,
      `${first.p50.toFixed(0)} / ${first.max.toFixed(0)}`,
      kind === 'kill' ? '0' : `${exit.p50.toFixed(0)} / ${exit.max.toFixed(0)}`,
      formatCounts(errors),
      verdict,
    ];
  });
  return {
    kind: 'cells',
    title: `A partition during a hand-over (acks=replicated, BROKER_LEASE ${leaseMs} ms): publishes to one subject forwarded by another member; the longest time without a successful ack from the event until 2 s after acks resumed once the owner was gone, the time to that first ack, and the errors the client saw (all repetitions)`,
    columns: [
      'owner',
      'runs',
      'longest gap p50 / max ms',
      'acks back after p50 / max ms',
      'owner exited after p50 / max ms',
      'client errors',
      'verdict',
    ],
    align: ['left', 'right', 'right', 'right', 'right', 'left', 'left'],
    rows,
  };
}
