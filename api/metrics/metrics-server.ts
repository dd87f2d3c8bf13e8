import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { UnavailableError } from '../../core/index.js';
import type { TlsFiles, TlsMaterial } from '../security/tls-files.js';

/**
 * Serves GET /metrics in the Prometheus text format (a Registry, or the primary's merge of its workers'). With `tls`
 * it serves HTTPS only, with the broker's certificate (rotations included), and with a client CA it requires a client
 * certificate signed by it (Prometheus's tls_config cert_file/key_file).
 */
export async function startMetricsServer(
  registry: { metrics(): Promise<string>; readonly contentType: string },
  host: string,
  port: number,
  tls?: TlsFiles,
): Promise<{ port: number; close(): Promise<void> }> {
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method === 'GET' && (req.url === '/metrics' || req.url?.startsWith('/metrics?'))) {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(text);
        },
        (err: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(String(err));
        },
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found: try GET /metrics\n');
  };
  const server: Server = tls === undefined ? createServer(handler) : httpsServer(handler, tls);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(new UnavailableError(`cannot serve metrics on ${host}:${port}: ${err.message}`, { cause: err })),
    );
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function httpsServer(handler: (req: IncomingMessage, res: ServerResponse) => void, tls: TlsFiles): Server {
  const options = (m: TlsMaterial) => ({ cert: m.cert, key: m.key, ...(m.ca === undefined ? {} : { ca: m.ca }) });
  const mutual = tls.material.ca !== undefined;
  const server = createHttpsServer(
    { ...options(tls.material), requestCert: mutual, rejectUnauthorized: mutual },
    handler,
  );
  const stop = tls.onChange((material) => server.setSecureContext(options(material)));
  server.once('close', stop);
  return server;
}
