import type { ChannelCredentials, Interceptor } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { BrokerConfig } from '../../core/index.js';
import { ClusterToken } from './cluster-token.js';
import { peerChannelCredentials } from './grpc-tls.js';
import { peerTlsPaths, serverTlsPaths, TlsFiles } from './tls-files.js';

export type { TlsFiles };

/** The transport security of one broker process, from its settings: what its servers and peer channels use. */
export interface SecurityParts {
  /** What the gRPC server takes (BrokerServerOptions' fields of the same names). */
  readonly serving: {
    /** The gRPC and metrics endpoints' certificate (and client CA); absent = plaintext. */
    readonly tls?: TlsFiles;
    /** What forwarded calls must carry (BROKER_CLUSTER_TOKEN[_FILE]); absent = not checked. */
    readonly clusterToken?: ClusterToken;
  };
  readonly tls: TlsFiles | undefined;
  /** A cluster member's side towards the other members. */
  readonly members: MemberSecurity;
}

/** How a cluster member calls the others, and what its own peer port (a worker's, BROKER_PEER_PORT) requires. */
export interface MemberSecurity {
  /** TLS checked against the peer CA, presenting this member's certificate; plaintext without TLS. */
  readonly channel: ChannelCredentials;
  /** Added to every call to another member (the cluster token's). */
  readonly interceptors: Interceptor[];
  /**
   * The peer port: TLS requiring a certificate of the peer CA (absent = plaintext), the token (absent = none), and
   * BROKER_HANDSHAKE_TIMEOUT for its TLS handshakes.
   */
  readonly port: { readonly tls?: TlsFiles; readonly clusterToken?: ClusterToken; readonly handshakeTimeoutMs: number };
}

/**
 * Reads the TLS files and the cluster token once (a ConfigError naming the variable when one cannot be used) and
 * watches the certificate files for rotations. A cluster without a token is allowed, as an embedded default is, but
 * warned about: any client able to reach a member could then send it calls marked forwarded.
 */
export async function openSecurity(
  config: BrokerConfig,
  logger: Logger,
  /** Where the broker registers what it closes at shutdown (the composition's opened parts). */
  opened: { add(name: string, close: () => Promise<void>): void },
): Promise<SecurityParts> {
  const paths = serverTlsPaths(config);
  const clusterToken = ClusterToken.fromConfig(config);
  if (config.cluster !== undefined && clusterToken === undefined) {
    logger.warn('BROKER_CLUSTER without BROKER_CLUSTER_TOKEN: calls marked forwarded are taken from anyone');
  }
  const tls = paths === undefined ? undefined : await TlsFiles.open(paths, config.tlsReloadIntervalMs, logger);
  if (tls !== undefined) opened.add('TLS files', () => Promise.resolve(tls.close()));
  const members = await memberSecurity(config, clusterToken, logger, opened);
  return {
    serving: { ...(tls === undefined ? {} : { tls }), ...(clusterToken === undefined ? {} : { clusterToken }) },
    tls,
    members,
  };
}

/** The member side: with TLS, its own certificate and the peer CA, re-read like the server's files. */
async function memberSecurity(
  config: BrokerConfig,
  clusterToken: ClusterToken | undefined,
  logger: Logger,
  opened: { add(name: string, close: () => Promise<void>): void },
): Promise<MemberSecurity> {
  const paths = config.cluster === undefined ? undefined : peerTlsPaths(config);
  const peer = paths === undefined ? undefined : await TlsFiles.open(paths, config.tlsReloadIntervalMs, logger);
  if (peer !== undefined) opened.add('peer TLS files', () => Promise.resolve(peer.close()));
  return {
    channel: peerChannelCredentials(peer, peer),
    interceptors: clusterToken === undefined ? [] : [clusterToken.interceptor()],
    port: {
      ...(peer === undefined ? {} : { tls: peer }),
      ...(clusterToken === undefined ? {} : { clusterToken }),
      handshakeTimeoutMs: config.handshakeTimeoutMs,
    },
  };
}
