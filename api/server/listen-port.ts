import type net from 'node:net';
import { UnavailableError } from '../../core/index.js';

/**
 * Binds a server to host:port (0 = any free port) and resolves with the port bound; a bind that fails (a port in
 * use, an address not on this host) rejects as UnavailableError naming what would have been served there.
 */
export function listenPort(server: net.Server, what: string, host: string, port: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const failed = (err: Error): void =>
      reject(new UnavailableError(`cannot serve ${what} on ${host}:${port}: ${err.message}`, { cause: err }));
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    });
  });
}
