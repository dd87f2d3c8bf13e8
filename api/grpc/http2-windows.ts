import http2 from 'node:http2';

/** The HTTP/2 receive windows the broker's server advertises: per stream, and per connection. */
export const STREAM_WINDOW_BYTES = 1024 * 1024;
export const CONNECTION_WINDOW_BYTES = 16 * 1024 * 1024;

let installed = false;

/**
 * grpc-js 1.14 servers keep HTTP/2's default 64 KiB receive window and have no option to change it; with many
 * 1 KiB requests in flight on one connection, a few stall for hundreds of ms (../shared/perf-notes.md #7).
 * grpc-js creates its servers through node:http2's createServer, so wrap it once to enlarge the windows.
 */
export function enlargeHttp2Windows(): void {
  if (installed) return;
  installed = true;
  const original = http2.createServer;
  const wrapped = (
    options: http2.ServerOptions,
    listener?: (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
  ): http2.Http2Server => {
    const server = original(
      { ...options, settings: { ...options?.settings, initialWindowSize: STREAM_WINDOW_BYTES } },
      listener,
    );
    server.on('session', (session: http2.ServerHttp2Session) => {
      // setLocalWindowSize needs the session connected; the 'connect' of a server session has already fired here.
      try {
        session.setLocalWindowSize(CONNECTION_WINDOW_BYTES);
      } catch {
        session.once('connect', () => session.setLocalWindowSize(CONNECTION_WINDOW_BYTES));
      }
    });
    return server;
  };
  (http2 as { createServer: unknown }).createServer = wrapped;
}
