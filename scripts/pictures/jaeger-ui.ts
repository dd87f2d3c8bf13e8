import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { startJaeger as startTestJaeger, type JaegerSpan, type JaegerTrace } from '../../api/test-support/jaeger.js';

export interface JaegerWithUi {
  /** OTLP/gRPC, as OTEL_EXPORTER_OTLP_ENDPOINT takes it. */
  readonly otlpEndpoint: string;
  /** The query service: its HTTP API under /api and the UI's pages. */
  readonly url: string;
  stop(): Promise<void>;
}

/** The tests' Jaeger (api/test-support/jaeger.ts) with the UI's assets, keeping every trace of the run. */
export async function startJaeger(uiAssets: string): Promise<JaegerWithUi> {
  await access(join(uiAssets, 'index.html')).catch(() => {
    throw new Error(`no Jaeger UI in ${uiAssets}: scripts/pictures.sh builds it (see its header)`);
  });
  const jaeger = await startTestJaeger({ uiAssets, maxTraces: 100_000 });
  return { otlpEndpoint: jaeger.otlpEndpoint, url: jaeger.queryUrl, stop: () => jaeger.dispose() };
}

function operationOfParent(span: JaegerSpan, byId: ReadonlyMap<string, JaegerSpan>): string | undefined {
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
  const traces = ((await res.json()) as { data: JaegerTrace[] | null }).data ?? [];
  const forwarded = traces.filter((t) => {
    const byId = new Map(t.spans.map((s) => [s.spanID, s]));
    return t.spans.some((s) => operationOfParent(s, byId)?.startsWith('forward ') === true);
  });
  const best = [...forwarded].sort((a, b) => b.spans.length - a.spans.length)[0];
  if (best === undefined) throw new Error(`no forwarded Publish among ${traces.length} traces in Jaeger`);
  return best.traceID;
}
