import { spawn, type ChildProcess } from 'node:child_process';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../test-support/ports.js';

/** The binary scripts/tools.sh jaeger builds (Jaeger v2, all in one: OTLP receiver, memory storage, query API). */
export const JAEGER_BIN = fileURLToPath(new URL('../../.tools/bin/jaeger', import.meta.url));

export interface Jaeger {
  /** OTLP/gRPC receiver, as OTEL_EXPORTER_OTLP_ENDPOINT takes it. */
  readonly otlpEndpoint: string;
  /** The query service's HTTP API, e.g. `${queryUrl}/api/traces?service=...`. */
  readonly queryUrl: string;
  /** Every trace of a service Jaeger holds (its HTTP query API). */
  traces(service: string): Promise<JaegerTrace[]>;
  dispose(): Promise<void>;
}

export interface JaegerSpan {
  readonly traceID: string;
  readonly spanID: string;
  readonly operationName: string;
  readonly processID: string;
  readonly references: ReadonlyArray<{ refType: string; traceID: string; spanID: string }>;
  readonly tags: ReadonlyArray<{ key: string; value: unknown }>;
}

export interface JaegerTrace {
  readonly traceID: string;
  readonly spans: readonly JaegerSpan[];
  readonly processes: Record<string, { serviceName: string; tags: ReadonlyArray<{ key: string; value: unknown }> }>;
}

/** Jaeger v2's configuration: OTLP in, memory storage, the query API; every port on loopback, none fixed. */
function config(
  ports: { grpc: number; http: number; query: number; queryGrpc: number },
  options: JaegerOptions,
): string {
  // Without `ui`, the query service serves a placeholder page: the module proxy's Jaeger carries no UI assets.
  const ui = options.uiAssets === undefined ? '' : `\n    ui:\n      assets_path: ${JSON.stringify(options.uiAssets)}`;
  return `
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
extensions:
  jaeger_query:
    storage:
      traces: memstore${ui}
    http:
      endpoint: 127.0.0.1:${ports.query}
    grpc:
      endpoint: 127.0.0.1:${ports.queryGrpc}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: ${options.maxTraces ?? 10_000}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:${ports.grpc}
      http:
        endpoint: 127.0.0.1:${ports.http}
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`;
}

export interface JaegerOptions {
  /** A built jaeger-ui (its index.html and assets) for the query service to serve (scripts/pictures.sh). */
  readonly uiAssets?: string;
  /** How many traces the memory store keeps (10,000 unless set). */
  readonly maxTraces?: number;
}

/** Starts Jaeger on free loopback ports with in-memory storage; fails at once when the binary is not built. */
export async function startJaeger(options: JaegerOptions = {}): Promise<Jaeger> {
  await access(JAEGER_BIN).catch(() => {
    throw new Error(`${JAEGER_BIN} is missing: build it with \`bash scripts/tools.sh jaeger\``);
  });
  const dir = await mkdtemp(join(tmpdir(), 'jaeger-'));
  const ports = {
    grpc: await freePort(),
    http: await freePort(),
    query: await freePort(),
    queryGrpc: await freePort(),
  };
  await writeFile(join(dir, 'config.yaml'), config(ports, options));
  const child: ChildProcess = spawn(JAEGER_BIN, ['--config', join(dir, 'config.yaml')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const queryUrl = `http://127.0.0.1:${ports.query}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`jaeger exited with ${child.exitCode}: ${stderr}`);
    const ok = await fetch(`${queryUrl}/api/services`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`jaeger did not serve its query API in 30 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    otlpEndpoint: `http://127.0.0.1:${ports.grpc}`,
    queryUrl,
    async traces(service) {
      const res = await fetch(`${queryUrl}/api/traces?service=${encodeURIComponent(service)}&limit=1000&lookback=1h`);
      if (!res.ok) return [];
      return ((await res.json()) as { data: JaegerTrace[] | null }).data ?? [];
    },
    async dispose() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
