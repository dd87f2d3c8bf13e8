import { InterceptingCall, type Interceptor, type Metadata, type handleUnaryCall } from '@grpc/grpc-js';
import { createHash, timingSafeEqual } from 'node:crypto';
import { UnauthenticatedError, type BrokerConfig } from '../../core/index.js';
import { toWireError } from '../grpc/status.js';

/** The metadata key that carries the cluster token on every forwarded call. */
export const CLUSTER_TOKEN_HEADER = 'broker-cluster-token';

/** toWireError logs only unexpected failures; a refusal is a BrokerError, so nothing is logged. */
const noLogger = { error: () => undefined };

/**
 * The secret the brokers of a cluster (and the workers of a broker) share: a call marked forwarded, or one for
 * broker.internal.Forwarding, is taken only with it. Without it a client could send the forwarded header and be
 * answered as a broker is (the owner side serves its partitions without the checks made where the client called).
 * Compared in constant time over SHA-256 digests, so neither the bytes nor the length leak through timing.
 */
export class ClusterToken {
  private readonly digest: Buffer;

  constructor(private readonly token: string) {
    this.digest = sha256(token);
  }

  /** The token of BROKER_CLUSTER_TOKEN (or BROKER_CLUSTER_TOKEN_FILE, read by the config loader); undefined = none. */
  static fromConfig(config: BrokerConfig): ClusterToken | undefined {
    return config.clusterToken === undefined ? undefined : new ClusterToken(config.clusterToken);
  }

  /** Whether the call's metadata carries this token. */
  carriedBy(metadata: Metadata): boolean {
    const values = metadata.get(CLUSTER_TOKEN_HEADER);
    if (values.length !== 1) return false;
    const [value] = values;
    return typeof value === 'string' && timingSafeEqual(sha256(value), this.digest);
  }

  /** The refusal of a call without it, or undefined when it has it. */
  check(metadata: Metadata): UnauthenticatedError | undefined {
    if (this.carriedBy(metadata)) return undefined;
    const missing = metadata.get(CLUSTER_TOKEN_HEADER).length === 0;
    return new UnauthenticatedError(
      missing
        ? 'a call forwarded by a broker must carry the cluster token (BROKER_CLUSTER_TOKEN); clients must not mark calls forwarded'
        : 'the cluster token of this forwarded call is wrong (BROKER_CLUSTER_TOKEN differs between the brokers?)',
      { metadata: { missing: 'cluster-token' } },
    );
  }

  /** A client interceptor that adds the token to every call of a channel (the forwarding side). */
  interceptor(): Interceptor {
    return (options, nextCall) =>
      new InterceptingCall(nextCall(options), {
        start: (metadata, listener, next) => {
          metadata.set(CLUSTER_TOKEN_HEADER, this.token);
          next(metadata, listener);
        },
      });
  }

  /** A unary handler that runs only with the token (broker.internal.Forwarding/Append). */
  guardUnary<Req, Res>(handler: handleUnaryCall<Req, Res>): handleUnaryCall<Req, Res> {
    return (call, callback) => {
      const refused = this.check(call.metadata);
      if (refused !== undefined) callback(toWireError(refused, noLogger));
      else handler(call, callback);
    };
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
