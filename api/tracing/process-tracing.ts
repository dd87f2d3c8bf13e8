import { startTracing, type OtelTracing, type TracingSettings } from './otel-tracing.js';

/**
 * The process's tracing, if on. OpenTelemetry's API is process-global (one provider, context manager and
 * propagator per process), so the parts that add spans to gRPC channels and servers built deep in the worker and
 * cluster wiring read it here instead of having it threaded through every constructor. Set once by the
 * composition root before it builds anything; undefined (the default) = tracing off.
 */
let current: OtelTracing | undefined;

export function setProcessTracing(tracing: OtelTracing | undefined): void {
  current = tracing;
}

export function processTracing(): OtelTracing | undefined {
  return current;
}

/** Starts this process's tracing (undefined when BROKER_TRACE_SAMPLE_RATIO is 0) and makes it the process's. */
export function startProcessTracing(settings: TracingSettings, worker?: number): OtelTracing | undefined {
  const tracing = startTracing(settings, worker);
  setProcessTracing(tracing);
  return tracing;
}
