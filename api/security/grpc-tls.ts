import {
  Server,
  ServerCredentials,
  credentials as channelCredentials,
  experimental,
  type ChannelCredentials,
  type ServiceDefinition,
} from '@grpc/grpc-js';
import { service as healthServiceDefinition } from 'grpc-health-check';
import type { Socket } from 'node:net';
import { UnauthenticatedError } from '../../core/index.js';
import { ForwardingService } from '../../proto/gen/internal.js';
import { brokerServiceDefinition } from '../grpc/service-definition.js';
import { refuseAll } from './refusal.js';
import type { TlsFiles } from './tls-files.js';

/**
 * The gRPC server's credentials: plaintext, or TLS with the identity from `files` (rotations included: grpc-js sets
 * the new secure context on its HTTP/2 server, for new connections). With a client CA, a client certificate signed
 * by it is required: the handshake fails without one, so no call of an unverified client reaches a handler.
 * A TLS handshake not finished within `handshakeTimeoutMs` (BROKER_HANDSHAKE_TIMEOUT) closes the connection; node's
 * TLS server would otherwise wait 120 s, long enough for stalled handshakes to fill BROKER_MAX_CONNECTIONS.
 */
export function serverCredentials(files: TlsFiles | undefined, handshakeTimeoutMs?: number): ServerCredentials {
  if (files === undefined) return ServerCredentials.createInsecure();
  const mutual = files.material.ca !== undefined;
  // grpc-js's declaration names the parameters the wrong way round: the first is the identity, the second the CA
  // (server-credentials.js passes them to the constructor as (identity, ca)).
  const credentials = experimental.createCertificateProviderServerCredentials(files, mutual ? files : null, mutual);
  if (handshakeTimeoutMs === undefined) return credentials;
  // grpc-js spreads these options into the http2.createSecureServer() of each listener or injector it makes, and has
  // no option of its own for the handshake's bound, so it is added to them.
  const constructorOptions = credentials._getConstructorOptions();
  credentials._getConstructorOptions = () =>
    constructorOptions === null ? null : { ...constructorOptions, handshakeTimeout: handshakeTimeoutMs };
  return credentials;
}

/**
 * The channel credentials of a cluster member calling another: TLS, checking the other's certificate with `ca` (the
 * peer CA), and presenting this member's own certificate (its server certificate, which must then allow client
 * authentication: extendedKeyUsage serverAuth, clientAuth) for brokers that require client certificates.
 */
export function peerChannelCredentials(ca: TlsFiles | undefined, own: TlsFiles | undefined): ChannelCredentials {
  if (ca === undefined || own === undefined) return channelCredentials.createInsecure();
  return experimental.createCertificateProviderChannelCredentials(ca, own);
}

/** Why a plaintext call is refused, in the words a client sees. */
export const PLAINTEXT_REFUSED =
  'this broker accepts TLS connections only (BROKER_TLS_CERT is set): connect with TLS (broker CLI: --tls-ca)';

/**
 * What answers a plaintext HTTP/2 connection to a broker that serves TLS: every call of the broker's services gets
 * UNAUTHENTICATED saying TLS is required, instead of a connection closed for no reason the client can read. It
 * serves nothing else (no handler of it touches the log).
 */
const plaintextRefusal = new UnauthenticatedError(PLAINTEXT_REFUSED, { metadata: { missing: 'tls' } });

export class PlaintextRefusal {
  private readonly server = new Server();
  private readonly injector;

  constructor() {
    for (const definition of [brokerServiceDefinition, ForwardingService, healthServiceDefinition]) {
      const service = definition as ServiceDefinition;
      this.server.addService(
        service,
        refuseAll(service, () => plaintextRefusal),
      );
    }
    this.injector = this.server.createConnectionInjector(ServerCredentials.createInsecure());
  }

  inject(socket: Socket): void {
    this.injector.injectConnection(socket);
  }

  close(): void {
    this.server.forceShutdown();
  }
}
