// npm run bench -- tracing [-- --seconds 8 --inflight 64 --payload 1024 --rounds 2]
//
// The price of tracing: unary Publish from ghz (a native client, so the Node client's CPU is out of the figures)
// against a broker with BROKER_TRACE_SAMPLE_RATIO 0 (off), 0.01 and 1, exporting over OTLP to a real Jaeger
// (scripts/tools.sh jaeger) on this machine. Each ratio gets a fresh broker and data dir, in rounds that alternate
// the ratios, so a drift of the shared machine lands on all of them; rates and percentiles are the rounds' means,
// the broker's CPU per publish comes from /proc.
import { parseArgs } from 'node:util';
import { startJaeger } from '../../api/test-support/jaeger.js';
import { ghzUnary } from '../support/ghz.js';
import { startBroker } from '../support/processes.js';
import { cpuMicros } from '../support/quiet.js';
import type { ScenarioResult } from '../support/result.js';
import { meanBy } from '../support/stats.js';
import { COMMON_OPTIONS } from './scenario.js';

const RATIOS = [0, 0.01, 1] as const;

interface Run {
  readonly rate: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpuMicrosPerPublish: number;
  readonly errors: number;
}

export async function run(args: string[]): Promise<ScenarioResult> {
  const { values } = parseArgs({
    args,
    options: {
      ...COMMON_OPTIONS,
      seconds: { type: 'string', default: '8' },
      inflight: { type: 'string', default: '64' },
      payload: { type: 'string', default: '1024' },
      rounds: { type: 'string', default: '2' },
    },
  });
  const seconds = Number(values.seconds);
  const inflight = Number(values.inflight);
  const payload = Number(values.payload);
  const rounds = Number(values.rounds);
  const jaeger = await startJaeger();
  const runs = new Map<number, Run[]>(RATIOS.map((r) => [r, []]));
  try {
    for (let round = 0; round < rounds; round++) {
      for (const ratio of RATIOS) {
        const broker = await startBroker({
          BROKER_TRACE_SAMPLE_RATIO: String(ratio),
          OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpEndpoint,
          OTEL_SERVICE_NAME: 'bench',
        });
        try {
          const load = (name: string, secs: number) =>
            ghzUnary({
              name,
              port: broker.port,
              call: 'broker.Broker/Publish',
              data: {
                subject: 'bench.traced',
                body: Buffer.alloc(payload, 1).toString('base64'),
                expirationSeconds: 0,
              },
              concurrency: inflight,
              seconds: secs,
              payloadBytes: payload,
            });
          // A warm-up first: the broker's JIT (and with BENCH_BROKER=src, tsx's transpiling) is not measured.
          await load('warm-up', 2);
          const before = cpuMicros([broker.pid]);
          const r = await load(`ratio ${ratio}`, seconds);
          const cpu = cpuMicros([broker.pid]) - before;
          const result = {
            rate: r.opsPerSec,
            p50Ms: r.p50Ms,
            p99Ms: r.p99Ms,
            cpuMicrosPerPublish: cpu / Math.max(1, r.ops),
            errors: r.errors,
          };
          console.error(`  ratio ${ratio}: ${Math.round(result.rate)} publishes/s, p99 ${result.p99Ms.toFixed(2)} ms`);
          runs.get(ratio)?.push(result);
        } finally {
          await broker.stop();
        }
      }
    }
  } finally {
    await jaeger.dispose();
  }
  const off = runs.get(0) ?? [];
  const offRate = meanBy(off, (r) => r.rate);
  const offCpu = meanBy(off, (r) => r.cpuMicrosPerPublish);
  return {
    heading: `## Tracing off, at 1% and at 100% (unary Publish, ghz 1 conn x ${inflight}, ${payload} B, fsync batch, ${seconds} s x ${rounds} rounds alternated; OTLP to Jaeger on the same machine)`,
    options: { seconds, inflight, payload, rounds },
    tables: [
      {
        kind: 'cells',
        columns: [
          'BROKER_TRACE_SAMPLE_RATIO',
          'publishes/s',
          'p50 ms',
          'p99 ms',
          'broker CPU µs/publish',
          'rate vs off',
          'CPU vs off',
        ],
        align: ['left', 'right', 'right', 'right', 'right', 'right', 'right'],
        rows: RATIOS.map((ratio) => {
          const rs = runs.get(ratio) ?? [];
          const rate = meanBy(rs, (r) => r.rate);
          const cpu = meanBy(rs, (r) => r.cpuMicrosPerPublish);
          return [
            ratio === 0 ? '0 (off)' : String(ratio),
            Math.round(rate).toLocaleString('en'),
            meanBy(rs, (r) => r.p50Ms).toFixed(2),
            meanBy(rs, (r) => r.p99Ms).toFixed(2),
            cpu.toFixed(0),
            `${((rate / offRate) * 100).toFixed(1)}%`,
            `${((cpu / offCpu) * 100).toFixed(1)}%`,
          ];
        }),
      },
    ],
  };
}
