/**
 * Tracing as the modules below the api see it: start a span, link it to spans captured earlier, run work inside
 * it, and read the active span's ids for a log line. The api implements it over OpenTelemetry (api/tracing/); core
 * and the modules that depend on it never load a tracing library.
 *
 * Excluded on purpose: exporting, sampling and propagation between processes (the api's), and any "disabled"
 * implementation: a component is handed `undefined` when tracing is off, so its hot path pays one property read and
 * builds no span, link or context.
 */
export interface Tracing {
  /**
   * The active span's context, to link a later span to (a group commit links the publishes it carries); undefined
   * when no recorded span is active. Opaque: only `start` reads it.
   */
  capture(): TraceLink | undefined;
  /**
   * Starts a span linked to the captured contexts, the caller ends it. Its parent is the first link when there are
   * links (so a batch is recorded whenever one thing it carries is), else the active span.
   */
  start(name: string, links?: readonly TraceLink[]): TraceSpan;
  /**
   * Runs `work` with a captured context active again (work done later on behalf of a traced call); undefined = with
   * no span active (work for untraced calls must not inherit whatever context happened to schedule it).
   */
  resume<T>(link: TraceLink | undefined, work: () => T): T;
  /** Runs `work` with `span` as the active span (spans started and contexts captured inside are its children). */
  within<T>(span: TraceSpan, work: () => T): T;
  /** The active recorded span's ids, for log lines; undefined when none is active. */
  activeIds(): TraceIds | undefined;
}

/** A captured span context (see Tracing.capture). */
export interface TraceLink {
  readonly traceLink: true;
}

/** A span in progress. */
export interface TraceSpan {
  /** Records an attribute (units in the name: `fsync_seconds`, `bytes`). */
  set(name: string, value: string | number | boolean): void;
  /** Marks the span failed, recording the error. */
  fail(err: unknown): void;
  end(): void;
}

/** W3C trace context ids, lower-case hex, as the log lines carry them. */
export interface TraceIds {
  readonly trace_id: string;
  readonly span_id: string;
}
