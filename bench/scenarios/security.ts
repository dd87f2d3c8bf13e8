// npm run bench -- security [-- --seconds 6 --inflight 64 --payload 1024 --rounds 2]
//
// The price of security (issue 15): unary Publish and PublishStream from bench/loadgen (grpc-go, so the client's
// CPU is out of the broker's figures) against a plaintext broker and against one with TLS, mTLS and an auth file
// whose identity the loadgen's bearer token names (every call authenticated by its token's SHA-256 and checked
// against a publish rule). Certificates are made by openssl at the start. Each setup gets a fresh broker and data
// dir, in rounds that alternate the setups, so a drift of the shared machine lands on both; rates and percentiles
// are the rounds' means, the broker's CPU per publish comes from /proc.
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { makeTestPki, type TestPki } from '../../api/test-support/certificates.js';
import { loadgen, type LoadgenOptions } from '../support/loadgen.js';
import { startBroker } from '../support/processes.js';
import { cpuMicros } from '../support/quiet.js';
import type { ScenarioResult } from '../support/result.js';
import { meanBy } from '../support/stats.js';
import { COMMON_OPTIONS } from './scenario.js';

const SETUPS = ['plaintext', 'TLS + mTLS', 'TLS + mTLS + token'] as const;
type Setup = (typeof SETUPS)[number];
const MODES = ['unary', 'stream'] as const;
type Mode = (typeof MODES)[number];

interface Run {
  readonly rate: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpuMicrosPerPublish: number;
  readonly errors: number;
}

/** The broker's settings and the loadgen's options of one setup. */
async function secured(pki: TestPki, token: string) {
  const authFile = join(pki.dir, 'auth.yaml');
  const hash = createHash('sha256').update(token).digest('hex');
  await writeFile(
    authFile,
    [
      'identities:',
      '  - name: bench',
      `    tokens: ["sha256:${hash}"]`,
      '    permissions:',
      '      publish: { allow: ["bench.>"] }',
    ].join('\n'),
  );
  return {
    env: {
      BROKER_TLS_CERT: pki.server.cert,
      BROKER_TLS_KEY: pki.server.key,
      BROKER_TLS_CLIENT_CA: pki.ca.cert,
      BROKER_AUTH_FILE: authFile,
    },
    client: { tls: { ca: pki.ca.cert, cert: pki.client.cert, key: pki.client.key }, token },
  };
}

export async function run(args: string[]): Promise<ScenarioResult> {
  const { values } = parseArgs({
    args,
    options: {
      ...COMMON_OPTIONS,
      seconds: { type: 'string', default: '6' },
      inflight: { type: 'string', default: '64' },
      payload: { type: 'string', default: '1024' },
      rounds: { type: 'string', default: '2' },
    },
  });
  const seconds = Number(values.seconds);
  const inflight = Number(values.inflight);
  const payload = Number(values.payload);
  const rounds = Number(values.rounds);
  const pki = await makeTestPki();
  const runs = new Map<string, Run[]>();
  try {
    const secure = await secured(pki, randomBytes(24).toString('hex'));
    const setups: Record<Setup, { env: Record<string, string>; client: Partial<LoadgenOptions> }> = {
      plaintext: { env: {}, client: {} },
      'TLS + mTLS': {
        env: { ...secure.env, BROKER_AUTH_FILE: '' },
        client: { tls: secure.client.tls },
      },
      'TLS + mTLS + token': secure,
    };
    for (let round = 0; round < rounds; round++) {
      for (const mode of MODES) {
        for (const setup of SETUPS) {
          const { env, client } = setups[setup];
          const broker = await startBroker(env);
          try {
            const before = cpuMicros([broker.pid]);
            const r = await loadgen({
              mode,
              host: '127.0.0.1',
              port: broker.port,
              subject: 'bench.secured',
              rate: 0,
              inflight,
              connections: 1,
              seconds,
              warmup: 2,
              payload,
              ...client,
            });
            const cpu = cpuMicros([broker.pid]) - before;
            const result = {
              rate: r.opsPerSec,
              p50Ms: r.p50Ms,
              p99Ms: r.p99Ms,
              // The warm-up's publishes are in the CPU too: divide by all acked, not by the window's.
              cpuMicrosPerPublish: cpu / Math.max(1, r.count * ((seconds + 2) / seconds)),
              errors: r.errors,
            };
            console.error(`  ${mode} ${setup}: ${Math.round(result.rate)}/s, p99 ${result.p99Ms.toFixed(2)} ms`);
            const key = `${mode}|${setup}`;
            runs.set(key, [...(runs.get(key) ?? []), result]);
          } finally {
            await broker.stop();
          }
        }
      }
    }
  } finally {
    await pki.dispose();
  }
  return result(runs, { seconds, inflight, payload, rounds });
}

function result(
  runs: Map<string, Run[]>,
  options: { seconds: number; inflight: number; payload: number; rounds: number },
): ScenarioResult {
  const { seconds, inflight, payload, rounds } = options;
  const label: Record<Mode, string> = { unary: 'Publish (unary)', stream: 'PublishStream' };
  return {
    heading: `## Security: TLS + mTLS, and with a bearer token checked against an auth file, vs plaintext (bench/loadgen, 1 connection x ${inflight} in flight, ${payload} B, fsync batch, ${seconds} s x ${rounds} rounds alternated)`,
    options,
    tables: [
      {
        kind: 'cells',
        columns: ['call', 'setup', 'publishes/s', 'p50 ms', 'p99 ms', 'broker CPU µs/publish', 'rate vs plaintext'],
        align: ['left', 'left', 'right', 'right', 'right', 'right', 'right'],
        rows: MODES.flatMap((mode) => {
          const base = meanBy(runs.get(`${mode}|plaintext`) ?? [], (r) => r.rate);
          return SETUPS.map((setup) => {
            const rs = runs.get(`${mode}|${setup}`) ?? [];
            const rate = meanBy(rs, (r) => r.rate);
            return [
              label[mode],
              setup,
              Math.round(rate).toLocaleString('en'),
              meanBy(rs, (r) => r.p50Ms).toFixed(2),
              meanBy(rs, (r) => r.p99Ms).toFixed(2),
              meanBy(rs, (r) => r.cpuMicrosPerPublish).toFixed(0),
              `${((rate / base) * 100).toFixed(1)}%`,
            ];
          });
        }),
      },
    ],
  };
}
