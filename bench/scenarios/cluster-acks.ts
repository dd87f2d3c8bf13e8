// npm run bench -- cluster-acks [-- --seconds 5 --warmup 1 --inflight 1,16,256 --body 1024 --repeat 2
//                                   --handover-reps 3 --lease 3s --brokers 3 --parts acks,handover]
//
// Issue 13's benchmark, in one run:
// - acks: PublishStream over the wire from bench/loadgen (one connection, --inflight unacknowledged at once) into a
//   broker that is a cluster of one member with BROKER_ACKS=local and with BROKER_ACKS=replicated, beside NATS
//   JetStream (file storage) with a stream at R1 (one nats-server) and at R3 (three nats-server processes clustered
//   on loopback, each its own store dir), the same loadgen driving it through nats.go. All four run for the whole
//   measurement; each (server, in flight) is measured --repeat times, the order reversed every other time so that a
//   drift of the shared machine lands on every side. Server CPU from /proc (for the broker, the CQL server's too).
//   The CQL server is one node (scripts/services.sh, or TEST_CQL_CONTACT_POINTS), so the keyspace has RF 1: the
//   broker's "replicated" here is one more copy on the same machine, NATS R3 is three.
// - handover: how long one partition answers no publish when its owner leaves gracefully or is killed
//   (bench/scenarios/handover.ts).
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { credentials } from '@grpc/grpc-js';
import { loadConfig } from '../../core/index.js';
import { BrokerClient } from '../../proto/gen/broker.js';
import {
  killBoundMs,
  priceVerdict,
  replicationPrice,
  spread,
  type ReplicationPrice,
} from '../support/cluster-stats.js';
import { loadgen } from '../support/loadgen.js';
import { startBroker, startNats, startNatsCluster } from '../support/processes.js';
import { cpuMark, cpuMicros, foreignPercent, trackPid } from '../support/quiet.js';
import type { ResultTable, ScenarioResult } from '../support/result.js';
import { meanBy } from '../support/stats.js';
import { times } from '../support/verdict.js';
import { handoverTable, measureHandovers } from './handover.js';
import { dropKeyspace, ensureCqlServer, type CqlServer } from './replication.js';
import { COMMON_OPTIONS } from './scenario.js';

type SystemName = 'broker acks=local' | 'broker acks=replicated' | 'NATS R1' | 'NATS R3';
const ORDER: readonly SystemName[] = ['broker acks=local', 'NATS R1', 'broker acks=replicated', 'NATS R3'];

interface Server {
  readonly port: number;
  /** The server's processes, and the CQL server when the broker's acks wait for it. */
  readonly pids: readonly number[];
  readonly cqlPids: readonly number[];
  stop(): Promise<void>;
}

interface Sample {
  readonly rate: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpuUsPerMsg: number;
  readonly cqlUsPerMsg: number;
  readonly foreign: number;
  readonly errors: number;
}

/** The pid listening on a TCP port of this machine (the CQL server's, to read its CPU), from ss. */
function listenerPids(port: string): number[] {
  try {
    const out = execFileSync('ss', ['-Htlnp', `sport = :${port}`], { encoding: 'utf8' });
    return [...new Set([...out.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])))];
  } catch {
    return [];
  }
}

/** A broker that is a cluster of one on the CQL server, ready once a publish to the bench subject succeeds. */
async function startMember(server: CqlServer, acks: 'local' | 'replicated', cqlPids: number[]): Promise<Server> {
  const name = `acks_${acks}_${randomBytes(3).toString('hex')}`;
  const b = await startBroker({
    BROKER_WORKERS: '1',
    BROKER_CLUSTER: name,
    BROKER_ID: 'm1',
    BROKER_ACKS: acks,
    BROKER_FSYNC: 'batch',
    SCYLLA_CONTACT_POINTS: server.contactPoints.join(','),
    SCYLLA_LOCAL_DC: server.localDataCenter,
    SCYLLA_KEYSPACE: name,
  });
  const client = new BrokerClient(`127.0.0.1:${b.port}`, credentials.createInsecure());
  try {
    for (let tries = 0; ; tries++) {
      const ok = await new Promise<boolean>((resolve) =>
        client.publish({ subject: 'bench.stream.0', body: Buffer.from('ready'), expirationSeconds: 0 }, (err) =>
          resolve(err === null),
        ),
      );
      if (ok) break;
      if (tries > 100) throw new Error(`broker acks=${acks} never took a publish`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (err) {
    await b.stop();
    throw err;
  } finally {
    client.close();
  }
  return {
    port: b.port,
    pids: [b.pid],
    cqlPids: acks === 'replicated' ? cqlPids : [],
    stop: async () => {
      await b.stop();
      await dropKeyspace(server, name).catch(() => undefined);
    },
  };
}

interface Settings {
  readonly seconds: number;
  readonly warmup: number;
  readonly payload: number;
}

async function measure(system: SystemName, srv: Server, inflight: number, s: Settings): Promise<Sample> {
  const mark = cpuMark();
  const cpu0 = cpuMicros(srv.pids);
  const cql0 = cpuMicros(srv.cqlPids);
  const broker = system.startsWith('broker');
  const r = await loadgen({
    mode: broker ? 'stream' : 'nats',
    host: '127.0.0.1',
    port: srv.port,
    subject: broker ? 'bench.stream' : 'bench.peer',
    subjectPerConnection: true,
    rate: 0,
    inflight,
    connections: 1,
    seconds: s.seconds,
    warmup: s.warmup,
    payload: s.payload,
    ...(broker ? {} : { natsReplicas: system === 'NATS R3' ? 3 : 1 }),
  });
  // The servers' CPU covers the warm-up too: divided by the messages of warm-up and window at the window's rate.
  const messages = Math.max(1, r.opsPerSec * (s.seconds + s.warmup));
  return {
    rate: r.opsPerSec,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    cpuUsPerMsg: (cpuMicros(srv.pids) - cpu0) / messages,
    cqlUsPerMsg: (cpuMicros(srv.cqlPids) - cql0) / messages,
    foreign: foreignPercent(mark),
    errors: r.errors,
  };
}

type Cell = Sample & { readonly system: SystemName; readonly inflight: number; readonly spread: number };

function averaged(system: SystemName, inflight: number, runs: readonly Sample[]): Cell {
  const mean = (f: (r: Sample) => number) => meanBy(runs, f);
  const rates = runs.map((r) => r.rate);
  return {
    system,
    inflight,
    rate: mean((r) => r.rate),
    p50Ms: mean((r) => r.p50Ms),
    p99Ms: mean((r) => r.p99Ms),
    cpuUsPerMsg: mean((r) => r.cpuUsPerMsg),
    cqlUsPerMsg: mean((r) => r.cqlUsPerMsg),
    foreign: Math.max(...runs.map((r) => r.foreign)),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    spread: spread(Math.min(...rates), Math.max(...rates)),
  };
}

/** Every (system, in flight) measured `repeat` times, all four servers up throughout, the order alternating. */
async function measureAcks(server: CqlServer, inflights: readonly number[], repeat: number, s: Settings) {
  const cqlPids = server.contactPoints.flatMap((p) => listenerPids(p.split(':')[1] ?? '9042'));
  for (const pid of cqlPids) trackPid(pid, true);
  const servers = new Map<SystemName, Server>();
  try {
    servers.set('broker acks=local', await startMember(server, 'local', cqlPids));
    servers.set('broker acks=replicated', await startMember(server, 'replicated', cqlPids));
    const r1 = await startNats();
    servers.set('NATS R1', { port: r1.port, pids: [r1.pid], cqlPids: [], stop: r1.stop });
    const r3 = await startNatsCluster(3);
    servers.set('NATS R3', { port: r3.port, pids: r3.pids, cqlPids: [], stop: r3.stop });
    const cells: Cell[] = [];
    for (const inflight of inflights) {
      const runs = new Map<SystemName, Sample[]>(ORDER.map((n) => [n, []]));
      for (let round = 0; round < repeat; round++) {
        for (const system of round % 2 === 0 ? ORDER : [...ORDER].reverse()) {
          const r = await measure(system, servers.get(system) as Server, inflight, s);
          console.error(
            `  ${system} x ${inflight}: ${Math.round(r.rate)} msgs/s, p50 ${r.p50Ms.toFixed(2)} ms, ${r.cpuUsPerMsg.toFixed(0)} CPU-µs/msg, foreign CPU ${r.foreign.toFixed(0)}%`,
          );
          runs.get(system)?.push(r);
        }
      }
      cells.push(...ORDER.map((system) => averaged(system, inflight, runs.get(system) ?? [])));
    }
    return { cells, cqlPids };
  } finally {
    for (const srv of servers.values()) await srv.stop();
    for (const pid of cqlPids) trackPid(pid, false);
  }
}

function acksTables(cells: readonly Cell[], inflights: readonly number[]): ResultTable[] {
  const cell = (system: SystemName, inflight: number) =>
    cells.find((c) => c.system === system && c.inflight === inflight) as Cell;
  const peerOf: Partial<Record<SystemName, SystemName>> = {
    'broker acks=local': 'NATS R1',
    'broker acks=replicated': 'NATS R3',
  };
  const prices = inflights.map((n) => {
    const ours = replicationPrice(cell('broker acks=local', n), cell('broker acks=replicated', n));
    const peer = replicationPrice(cell('NATS R1', n), cell('NATS R3', n));
    return { n, ours, peer };
  });
  const x = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}x` : 'n/a');
  const pct = (p: ReplicationPrice) => `${(p.rateShare * 100).toFixed(0)}%`;
  return [
    {
      kind: 'cells',
      title: 'Publish acknowledged, 1 connection, closed loop: rate and ack latency (mean of the runs), server CPU',
      columns: ['server', 'in flight', 'msgs/s', 'spread', 'p50 ms', 'p99 ms', 'server CPU-µs/msg', 'vs NATS', 'notes'],
      align: ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'left'],
      rows: cells.map((c) => {
        const peer = peerOf[c.system];
        const cql = c.cqlUsPerMsg > 0 ? ` (+ CQL server ${c.cqlUsPerMsg.toFixed(0)})` : '';
        return [
          c.system,
          `${c.inflight}`,
          Math.round(c.rate).toLocaleString('en'),
          `${(c.spread * 100).toFixed(0)}%`,
          c.p50Ms.toFixed(2),
          c.p99Ms.toFixed(2),
          `${c.cpuUsPerMsg.toFixed(0)}${cql}`,
          peer === undefined ? '' : `${times(c.rate, cell(peer, c.inflight).rate)} ${peer}`,
          `foreign CPU <= ${c.foreign.toFixed(0)}%${c.errors > 0 ? `; ${c.errors} errors` : ''}`,
        ];
      }),
    },
    {
      kind: 'cells',
      title:
        'The price of replication on each side: the replicated rate as a share of the single-copy rate, latency as a multiple (verdict: met when the broker keeps at least the share NATS keeps)',
      columns: [
        'in flight',
        'broker replicated / local',
        'NATS R3 / R1',
        'p50 broker / NATS',
        'p99 broker / NATS',
        'verdict',
      ],
      align: ['right', 'right', 'right', 'right', 'right', 'left'],
      rows: prices.map(({ n, ours, peer }) => [
        `${n}`,
        pct(ours),
        pct(peer),
        `${x(ours.p50Times)} / ${x(peer.p50Times)}`,
        `${x(ours.p99Times)} / ${x(peer.p99Times)}`,
        priceVerdict(ours, peer),
      ]),
    },
  ];
}

export async function run(args: string[]): Promise<ScenarioResult> {
  const { values } = parseArgs({
    args,
    options: {
      ...COMMON_OPTIONS,
      seconds: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
      inflight: { type: 'string', default: '1,16,256' },
      body: { type: 'string', default: '1024' },
      repeat: { type: 'string', default: '2' },
      'handover-reps': { type: 'string', default: '3' },
      'handover-inflight': { type: 'string', default: '8' },
      lease: { type: 'string', default: '3s' },
      brokers: { type: 'string', default: '3' },
      parts: { type: 'string', default: 'acks,handover' },
    },
  });
  const s: Settings = { seconds: Number(values.seconds), warmup: Number(values.warmup), payload: Number(values.body) };
  const inflights = values.inflight.split(',').map(Number);
  const repeat = Number(values.repeat);
  const parts = values.parts.split(',');
  // The lease as the broker reads it (BROKER_LEASE's syntax and floor), and the default clock-drift bound.
  const lease = loadConfig({ BROKER_LEASE: values.lease });
  const server = await ensureCqlServer();
  const tables: ResultTable[] = [];
  try {
    if (parts.includes('acks'))
      tables.push(...acksTables((await measureAcks(server, inflights, repeat, s)).cells, inflights));
    if (parts.includes('handover')) {
      const runs = await measureHandovers({
        server,
        keyspace: `bench_ho_${randomBytes(4).toString('hex')}`,
        brokers: Number(values.brokers),
        leaseMs: lease.leaseMs,
        maxClockDriftMs: lease.maxClockDriftMs,
        inflight: Number(values['handover-inflight']),
        reps: Number(values['handover-reps']),
      });
      tables.push(handoverTable(runs, lease.leaseMs, killBoundMs(lease.leaseMs, lease.maxClockDriftMs)));
    }
  } finally {
    await server.stop();
  }
  return {
    heading: `## Cluster (issue 13): acks=local vs replicated beside NATS JetStream R1 vs R3, and hand-over unavailability (${s.payload} B, ${s.seconds} s after ${s.warmup} s warm-up, x${repeat} alternated; BROKER_LEASE ${lease.leaseMs} ms, drift bound ${lease.maxClockDriftMs} ms; CQL server ${server.source}, one node, keyspace RF 1)`,
    options: { ...s, inflight: inflights, repeat, parts, lease: lease.leaseMs, brokers: Number(values.brokers) },
    tables,
  };
}
