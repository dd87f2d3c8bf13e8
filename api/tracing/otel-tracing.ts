import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Link,
  type Span,
  type TextMapGetter,
  type TextMapSetter,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  NodeTracerProvider,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-node';
import type { Metadata } from '@grpc/grpc-js';
import type { TraceIds, TraceLink, TraceSpan, Tracing } from '../../core/index.js';

/** A captured context as the core port hands it around (opaque outside this file). */
interface OtelLink extends TraceLink {
  readonly context: Context;
}

class OtelSpan implements TraceSpan {
  constructor(readonly span: Span) {}
  set(name: string, value: string | number | boolean): void {
    this.span.setAttribute(name, value);
  }
  fail(err: unknown): void {
    this.span.recordException(err instanceof Error ? err : String(err));
    this.span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
  }
  end(): void {
    this.span.end();
  }
}

const metadataGetter: TextMapGetter<Metadata> = {
  keys: (carrier) => Object.keys(carrier.getMap()),
  get: (carrier, key) => carrier.get(key).map(String),
};
const metadataSetter: TextMapSetter<Metadata> = { set: (carrier, key, value) => carrier.set(key, value) };

/**
 * Tracing over OpenTelemetry: the core port (group commits, jobs) plus what the gRPC edge needs (server spans that
 * continue a caller's `traceparent`, client spans that send it). Built only when BROKER_TRACE_SAMPLE_RATIO > 0:
 * with tracing off nothing of this exists, so no span, link or context is made anywhere.
 */
export class OtelTracing implements Tracing {
  private readonly tracer: Tracer;

  constructor(private readonly provider: NodeTracerProvider) {
    this.tracer = provider.getTracer('logbroker');
  }

  capture(): TraceLink | undefined {
    const active = context.active();
    if (trace.getSpan(active)?.isRecording() !== true) return undefined;
    const link: OtelLink = { traceLink: true, context: active };
    return link;
  }

  start(name: string, links?: readonly TraceLink[]): TraceSpan {
    const first = links?.[0] as OtelLink | undefined;
    const spanLinks: Link[] = [];
    for (const link of links ?? []) {
      const spanContext = trace.getSpanContext((link as OtelLink).context);
      if (spanContext !== undefined) spanLinks.push({ context: spanContext });
    }
    return new OtelSpan(this.tracer.startSpan(name, { links: spanLinks }, first?.context ?? context.active()));
  }

  within<T>(span: TraceSpan, work: () => T): T {
    return context.with(trace.setSpan(context.active(), (span as OtelSpan).span), work);
  }

  resume<T>(link: TraceLink | undefined, work: () => T): T {
    return context.with((link as OtelLink | undefined)?.context ?? ROOT_CONTEXT, work);
  }

  activeIds(): TraceIds | undefined {
    const span = trace.getSpan(context.active());
    if (span === undefined || !span.isRecording()) return undefined;
    const { traceId, spanId } = span.spanContext();
    return { trace_id: traceId, span_id: spanId };
  }

  /** A server call's span: a child of the caller's `traceparent` when the metadata has one, else a new trace. */
  serverSpan(method: string, metadata: Metadata): { span: Span; context: Context } {
    const parent = propagation.extract(ROOT_CONTEXT, metadata, metadataGetter);
    const span = this.tracer.startSpan(
      method.slice(1),
      { kind: SpanKind.SERVER, attributes: rpcAttributes(method) },
      parent,
    );
    return { span, context: trace.setSpan(parent, span) };
  }

  /** A client call's span, a child of the active span; its context goes into the call's metadata. */
  clientSpan(method: string, metadata: Metadata): Span {
    const active = context.active();
    const span = this.tracer.startSpan(method, { kind: SpanKind.CLIENT, attributes: rpcAttributes(method) }, active);
    propagation.inject(trace.setSpan(active, span), metadata, metadataSetter);
    return span;
  }

  /** Sends the spans still buffered and stops (at shutdown). */
  async shutdown(): Promise<void> {
    await this.provider.shutdown();
  }
}

/** `/broker.Broker/Publish` → OpenTelemetry's rpc.* attributes. */
function rpcAttributes(path: string): Record<string, string> {
  const [, service = '', method = ''] = path.split('/');
  return { 'rpc.system': 'grpc', 'rpc.service': service, 'rpc.method': method };
}

export interface TracingSettings {
  /** BROKER_TRACE_SAMPLE_RATIO: 0 = off. */
  readonly traceSampleRatio: number;
  /** BROKER_ID: the spans' service.instance.id. */
  readonly brokerId: string;
}

/**
 * Starts tracing when the ratio is above 0: a tracer provider registered as the process's (OpenTelemetry's API is
 * process-global: its context manager, propagator and provider), sampling new traces at the ratio and following a
 * caller's decision (parent-based), exporting in batches over OTLP/gRPC to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
 * OTEL_EXPORTER_OTLP_ENDPOINT (default http://localhost:4317; the exporter reads them). Undefined when off.
 */
export function startTracing(settings: TracingSettings, worker?: number): OtelTracing | undefined {
  if (settings.traceSampleRatio <= 0) return undefined;
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      'service.name': process.env['OTEL_SERVICE_NAME'] ?? 'logbroker',
      'service.instance.id': worker === undefined ? settings.brokerId : `${settings.brokerId}/w${worker}`,
    }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.traceSampleRatio) }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  return new OtelTracing(provider);
}
