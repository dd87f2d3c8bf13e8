import http2 from 'node:http2';

/** The links grpc-js 1.14 keeps from a server call down to its HTTP/2 stream (none of them public API). */
interface CallInternals {
  /** ServerWritableStreamImpl.call: the intercepting call (BaseServerInterceptingCall without interceptors). */
  readonly call?: unknown;
  /** ServerInterceptingCall.nextCall: the next call down the interceptor chain. */
  readonly nextCall?: unknown;
  /** BaseServerInterceptingCall.stream: the ServerHttp2Stream. */
  readonly stream?: unknown;
}

/** How far down an interceptor chain to look; the broker installs none, so the stream is one step away. */
const MAX_CHAIN = 8;

function isHttp2Stream(value: unknown): value is http2.Http2Stream {
  if (typeof value !== 'object' || value === null) return false;
  return typeof (value as { close?: unknown }).close === 'function' && 'rstCode' in value && 'session' in value;
}

/**
 * The HTTP/2 stream under a grpc-js server call, found through its internal links (CallInternals); undefined when
 * they are not there (http2-stream-reset.test.ts fails if a grpc-js upgrade changes them).
 */
export function callHttp2Stream(call: object): http2.Http2Stream | undefined {
  let link: unknown = (call as CallInternals).call;
  for (let depth = 0; depth < MAX_CHAIN && typeof link === 'object' && link !== null; depth++) {
    const { stream, nextCall } = link as CallInternals;
    if (isHttp2Stream(stream)) return stream;
    link = nextCall;
  }
  return undefined;
}

/**
 * Resets (RST_STREAM) the HTTP/2 stream under a grpc-js server call, which drops the frames still queued on it. A
 * call ended the ordinary way keeps its framed messages (each stream holds its own copy) queued in the HTTP/2
 * session until its client reads them or disconnects, so ending a client that does not read frees nothing. grpc-js
 * has no public way to reset a server stream, so this follows its internal links (callHttp2Stream); it returns false
 * when it does not find them. The client sees the code: ENHANCE_YOUR_CALM is RESOURCE_EXHAUSTED in gRPC clients.
 */
export function resetCallStream(call: object, code: number = http2.constants.NGHTTP2_ENHANCE_YOUR_CALM): boolean {
  const stream = callHttp2Stream(call);
  if (stream === undefined) return false;
  // A non-zero code resets at once, writes pending or not (node:http2 closeStream).
  if (!stream.closed && !stream.destroyed) stream.close(code);
  return true;
}
