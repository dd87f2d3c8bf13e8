import {
  InterceptingCall,
  status as Status,
  type Interceptor,
  type ServiceDefinition,
  type UntypedHandleCall,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { context, SpanStatusCode, type Span } from '@opentelemetry/api';
import type { OtelTracing } from './otel-tracing.js';

/** A span ended once, with the call's gRPC status. */
function endRpcSpan(span: Span, code: number | undefined, message?: string): void {
  span.setAttribute('rpc.grpc.status_code', code ?? Status.OK);
  if (code !== undefined && code !== Status.OK)
    span.setStatus({ code: SpanStatusCode.ERROR, ...(message === undefined ? {} : { message }) });
  span.end();
}

type Callback = (err: { code?: number; details?: string; message?: string } | null, ...rest: unknown[]) => void;
type CallbackHandler = (call: { metadata: import('@grpc/grpc-js').Metadata }, callback: Callback) => void;
type StreamCall = NodeJS.EventEmitter & { metadata: import('@grpc/grpc-js').Metadata };
type StreamHandler = (call: StreamCall) => void;

/** A unary (or client-streaming) handler whose call is a server span, ended when the answer is sent. */
function tracedCallbackHandler(tracing: OtelTracing, path: string, handler: CallbackHandler): CallbackHandler {
  return (call, callback) => {
    const { span, context: ctx } = tracing.serverSpan(path, call.metadata);
    context.with(ctx, () =>
      handler(call, (err, ...rest) => {
        endRpcSpan(span, err?.code ?? (err === null ? undefined : Status.UNKNOWN), err?.details ?? err?.message);
        callback(err, ...rest);
      }),
    );
  };
}

/**
 * A server-streaming or bidirectional handler whose stream is one server span. The call's listeners run in the
 * span's context (a PublishStream's requests arrive as events, outside the handler's own turn).
 */
function tracedStreamHandler(tracing: OtelTracing, path: string, handler: StreamHandler): StreamHandler {
  return (call) => {
    const { span, context: ctx } = tracing.serverSpan(path, call.metadata);
    let ended = false;
    const end = (code: number | undefined, message?: string): void => {
      if (ended) return;
      ended = true;
      endRpcSpan(span, code, message);
    };
    call.once('error', (err: { code?: number; details?: string }) => end(err.code ?? Status.UNKNOWN, err.details));
    call.once('cancelled', () => end(Status.CANCELLED, 'cancelled'));
    call.once('finish', () => end(undefined));
    call.once('close', () => end(undefined));
    context.bind(ctx, call);
    context.with(ctx, () => handler(call));
  };
}

/**
 * The handlers of a service with a server span per call (per stream for streams), continuing the caller's
 * `traceparent`; the handlers themselves when tracing is off.
 */
export function traceHandlers<T extends object>(
  tracing: OtelTracing | undefined,
  definition: ServiceDefinition,
  handlers: T,
): T {
  if (tracing === undefined) return handlers;
  const traced: UntypedServiceImplementation = {};
  for (const [name, handler] of Object.entries(handlers) as Array<[string, UntypedHandleCall]>) {
    const method = definition[name];
    if (method === undefined) traced[name] = handler;
    else if (method.responseStream)
      traced[name] = tracedStreamHandler(
        tracing,
        method.path,
        handler as unknown as StreamHandler,
      ) as UntypedHandleCall;
    else
      traced[name] = tracedCallbackHandler(
        tracing,
        method.path,
        handler as unknown as CallbackHandler,
      ) as UntypedHandleCall;
  }
  return traced as T;
}

/** A client interceptor: each call a span (a child of the active span) whose `traceparent` goes with the call. */
export function tracingInterceptor(tracing: OtelTracing): Interceptor {
  return (options, nextCall) =>
    new InterceptingCall(nextCall(options), {
      start(metadata, _listener, next) {
        const span = tracing.clientSpan(`forward ${options.method_definition.path.slice(1)}`, metadata);
        next(metadata, {
          onReceiveStatus(status, nextStatus) {
            endRpcSpan(span, status.code, status.details);
            nextStatus(status);
          },
        });
      },
    });
}
