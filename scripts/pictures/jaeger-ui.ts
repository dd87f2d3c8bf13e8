import { spawn, type ChildProcess } from 'node:child_process';
import { access, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, until } from './util.js';

/** The binary `bash scripts/tools.sh jaeger` builds (Jaeger v2 all in one, without its UI: the module has none). */
export const JAEGER_BIN = join(import.meta.dirname, '..', '..', '.tools', 'bin', 'jaeger');

export interface JaegerWithUi {
  /** OTLP/gRPC, as OTEL_EXPORTER_OTLP_ENDPOINT takes it. */
  readonly otlpEndpoint: string;
  /** The query service: its HTTP API under /api and the UI's pages. */
  readonly url: string;
  stop(): Promise<void>;
}

interface Span {
  readonly spanID: string;
  readonly operationName: string;
  readonly processID: string;
  readonly references: ReadonlyArray<{ refType: string; spanID: string }>;
}
interface Trace {
  readonly traceID: string;
  readonly spans: readonly Span[];
}

/** Jaeger v2: OTLP in, memory storage, the query service serving the UI's assets from `uiAssets`; loopback only. */
function config(uiAssets: string, ports: Record<'grpc' | 'query' | 'queryGrpc', number>): string {
  return `
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces: { receivers: [otlp], processors: [batch], exporters: [jaeger_storage_exporter] }
  telemetry: { metrics: { level: none } }
extensions:
  jaeger_query:
    storage: { traces: memstore }
    ui: { assets_path: ${JSON.stringify(uiAssets)} }
    http: { endpoint: 127.0.0.1:${ports.query} }
    grpc: { endpoint: 127.0.0.1:${ports.queryGrpc} }
  jaeger_storage:
    backends: { memstore: { memory: { max_traces: 100000 } } }
receivers:
  otlp: { protocols: { grpc: { endpoint: 127.0.0.1:${ports.grpc} } } }
processors:
  batch: { timeout: 100ms }
exporters:
  jaeger_storage_exporter: { trace_storage: memstore }
`;
}

export async function startJaeger(dir: string, uiAssets: string): Promise<JaegerWithUi> {
  await access(join(uiAssets, 'index.html')).catch(() => {
    throw new Error(`no Jaeger UI in ${uiAssets}: scripts/pictures.sh builds it (see its header)`);
  });
  const ports = { grpc: await freePort(), query: await freePort(), queryGrpc: await freePort() };
  await writeFile(join(dir, 'jaeger.yaml'), config(uiAssets, ports));
  const child: ChildProcess = spawn(JAEGER_BIN, ['--config', join(dir, 'jaeger.yaml')], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${ports.query}`;
  await until('Jaeger serves its query API', async () => (await fetch(`${url}/api/services`)).ok);
  return {
    otlpEndpoint: `http://127.0.0.1:${ports.grpc}`,
    url,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function operationOfParent(span: Span, byId: ReadonlyMap<string, Span>): string | undefined {
  const parent = span.references.find((r) => r.refType === 'CHILD_OF')?.spanID;
  return parent === undefined ? undefined : byId.get(parent)?.operationName;
}

/**
 * A publish worth showing: one whose Publish was forwarded to the owning worker, so its trace crosses both processes
 * (Publish → forward Append → Append → the group commit that wrote it); the one with the most spans.
 */
export async function forwardedPublishTrace(jaeger: JaegerWithUi, service: string): Promise<string> {
  const res = await fetch(
    `${jaeger.url}/api/traces?service=${encodeURIComponent(service)}&operation=${encodeURIComponent('broker.Broker/Publish')}&limit=200&lookback=1h`,
  );
  const traces = ((await res.json()) as { data: Trace[] | null }).data ?? [];
  const forwarded = traces.filter((t) => {
    const byId = new Map(t.spans.map((s) => [s.spanID, s]));
    return t.spans.some((s) => operationOfParent(s, byId)?.startsWith('forward ') === true);
  });
  const best = [...forwarded].sort((a, b) => b.spans.length - a.spans.length)[0];
  if (best === undefined) throw new Error(`no forwarded Publish among ${traces.length} traces in Jaeger`);
  return best.traceID;
}
