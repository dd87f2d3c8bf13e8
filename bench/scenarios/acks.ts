// npm run bench -- acks [-- --seconds 8 --inflight 1,16,256 --body 1024]
//
// The price of BROKER_ACKS=replicated: appends/s, per-append latency (p50, p99) and CPU-µs per append of this
// process from /proc (main thread and every thread) of the partitioned log (fsync batch, 16 subjects, --body bytes)
// with acks local (nothing to the cold tier), local streamed (acknowledged records streamed to the cold tier behind
// the acks, log/replica-stream.ts) and replicated (every group commit written to the cold tier on the CQL server
// before it is acknowledged), for each --inflight (appends in flight at once), alternated twice so a drift of the
// shared machine lands on every side. The CQL server: TEST_CQL_CONTACT_POINTS if set, else one
// scripts/services.sh starts in a temp dir (Cassandra 5, one node on this machine: the stand-in for ScyllaDB; the
// figures include its CPU on the same cores).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, type ColdStore } from '../../core/index.js';
import { logOptionsFromConfig, openLog } from '../../log/index.js';
import { openCassandraColdStore } from '../../tiering/cassandra/index.js';
import type { ScenarioResult } from '../support/result.js';
import { meanBy, quantileOfSorted } from '../support/stats.js';
import { cpuDuring } from '../support/proc-cpu.js';
import { COMMON_OPTIONS } from './scenario.js';
import { dropKeyspace, ensureCqlServer } from './replication.js';

type Acks = 'local' | 'streamed' | 'replicated';
const MODES: readonly Acks[] = ['local', 'streamed', 'replicated'];

interface Cell {
  readonly acks: Acks;
  readonly inflight: number;
  readonly rate: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU-µs per append of this process: its main thread, and all its threads. */
  readonly mainUs: number;
  readonly processUs: number;
}

/** The log's options for an ack mode: the cold tier written before the acks, behind them, or not at all. */
function ackOptions(cold: ColdStore, acks: Acks, retentionMs: number, tailCacheBytes: number) {
  if (acks === 'replicated') return { replica: { store: cold, retentionMs } };
  if (acks === 'streamed')
    return { replicaStream: { store: cold, retentionMs, maxQueuedBytes: tailCacheBytes, maxLagMs: 0 } };
  return {};
}

/** Appends for `seconds` with `inflight` appenders on a fresh log; the rate and the ack latencies. */
async function measure(cold: ColdStore, acks: Acks, inflight: number, seconds: number, bodyBytes: number) {
  const dir = await mkdtemp(join(tmpdir(), 'bench-acks-'));
  const config = loadConfig({ BROKER_ID: 'bench', BROKER_DATA_DIR: dir, BROKER_FSYNC: 'batch' });
  const log = await openLog({
    ...logOptionsFromConfig(config),
    ...ackOptions(cold, acks, config.retentionMs, config.tailCacheBytes),
  });
  const body = randomBytes(bodyBytes);
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  const start = performance.now();
  let cpu;
  try {
    [cpu] = await Promise.all([
      cpuDuring(process.pid, 0, seconds * 1000),
      ...Array.from({ length: inflight }, async (_, i) => {
        while (performance.now() < end) {
          const t = performance.now();
          await log.append({ subject: `acks.${i % 16}`, body, expirationSeconds: 0 });
          latencies.push(performance.now() - t);
        }
      }),
    ]);
  } finally {
    await log.close();
    await rm(dir, { recursive: true, force: true });
  }
  const rate = latencies.length / ((performance.now() - start) / 1000);
  latencies.sort((a, b) => a - b);
  // The CPU window is the appending window; the appends in it are (nearly) all of them.
  const mainUs = cpu.mainUs / latencies.length;
  const processUs = cpu.processUs / latencies.length;
  return { rate, p50Ms: quantileOfSorted(latencies, 0.5), p99Ms: quantileOfSorted(latencies, 0.99), mainUs, processUs };
}

function averaged(acks: Acks, inflight: number, runs: ReadonlyArray<Omit<Cell, 'acks' | 'inflight'>>): Cell {
  const mean = (f: (r: Omit<Cell, 'acks' | 'inflight'>) => number) => meanBy(runs, f);
  return {
    acks,
    inflight,
    rate: mean((r) => r.rate),
    p50Ms: mean((r) => r.p50Ms),
    p99Ms: mean((r) => r.p99Ms),
    mainUs: mean((r) => r.mainUs),
    processUs: mean((r) => r.processUs),
  };
}

export async function run(args: string[]): Promise<ScenarioResult> {
  const { values } = parseArgs({
    args,
    options: {
      ...COMMON_OPTIONS,
      seconds: { type: 'string', default: '8' },
      inflight: { type: 'string', default: '1,16,256' },
      body: { type: 'string', default: '1024' },
    },
  });
  const seconds = Number(values.seconds);
  const bodyBytes = Number(values.body);
  const inflights = values.inflight.split(',').map(Number);
  const server = await ensureCqlServer();
  const keyspace = `bench_${randomBytes(5).toString('hex')}`;
  const cold = await openCassandraColdStore({
    contactPoints: server.contactPoints,
    localDataCenter: server.localDataCenter,
    keyspace,
    replicationFactor: 1,
    consistency: 'localQuorum',
    concurrency: 64,
  });
  const cells: Cell[] = [];
  try {
    for (const inflight of inflights) {
      const runs: Record<Acks, Array<Omit<Cell, 'acks' | 'inflight'>>> = { local: [], streamed: [], replicated: [] };
      for (const acks of [...MODES, ...MODES]) {
        const r = await measure(cold, acks, inflight, seconds, bodyBytes);
        console.error(
          `  ${acks} x ${inflight}: ${Math.round(r.rate)} appends/s, p50 ${r.p50Ms.toFixed(2)} ms, ` +
            `CPU ${r.mainUs.toFixed(1)} / ${r.processUs.toFixed(1)} us per append (main / process)`,
        );
        runs[acks].push(r);
      }
      for (const acks of MODES) cells.push(averaged(acks, inflight, runs[acks]));
    }
  } finally {
    await cold.close();
    await dropKeyspace(server, keyspace);
    await server.stop();
  }
  const local = (inflight: number) => cells.find((c) => c.acks === 'local' && c.inflight === inflight);
  return {
    heading: `## Publish with BROKER_ACKS=local, local streamed to the cold tier, and replicated (log level, fsync batch, ${bodyBytes} B, ${seconds} s x 2 each; CQL server ${server.source})`,
    options: { seconds, inflight: inflights, body: bodyBytes },
    tables: [
      {
        kind: 'cells',
        columns: [
          'acks',
          'in flight',
          'appends/s',
          'p50 ms',
          'p99 ms',
          'rate vs local',
          'CPU µs/append (main / process)',
        ],
        align: ['left', 'right', 'right', 'right', 'right', 'right', 'right'],
        rows: cells.map((c) => [
          c.acks,
          `${c.inflight}`,
          Math.round(c.rate).toLocaleString('en'),
          c.p50Ms.toFixed(2),
          c.p99Ms.toFixed(2),
          `${((c.rate / (local(c.inflight)?.rate ?? c.rate)) * 100).toFixed(0)}%`,
          `${c.mainUs.toFixed(1)} / ${c.processUs.toFixed(1)}`,
        ]),
      },
    ],
  };
}
