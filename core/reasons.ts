/**
 * The broker's reason codes: every failure the broker reports has one, kept in this table with its gRPC status, retry
 * policy and CLI exit code. docs/errors.md documents the same table and a test keeps the two in step.
 */

/** gRPC status codes the broker uses (numeric values of google.rpc.Code; core does not import grpc-js). */
export const GrpcCode = {
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
export type GrpcCode = (typeof GrpcCode)[keyof typeof GrpcCode];

export interface ReasonSpec {
  readonly grpcCode: GrpcCode;
  readonly retriable: boolean;
  readonly description: string;
  /**
   * The exit code of the CLI when this error stops it: 2 for a setting the broker cannot start with, 3 for a data
   * directory it cannot read, 1 for anything else (a supervisor may restart on 1 but should not on 2 or 3).
   */
  readonly exitCode: number;
}

/** Reason code -> gRPC status and retry policy. The single source of truth for docs/errors.md. */
export const REASONS = {
  INVALID_ARGUMENT: {
    grpcCode: GrpcCode.INVALID_ARGUMENT,
    retriable: false,
    description:
      'A request field is malformed: empty or too long subject, whitespace or control characters, negative expiration, bad page token.',
    exitCode: 1,
  },
  INVALID_ID: {
    grpcCode: GrpcCode.INVALID_ARGUMENT,
    retriable: false,
    description: 'The id was never published on this subject: id < 1, id above the last id, or an unknown subject.',
    exitCode: 1,
  },
  EXPIRED_ID: {
    grpcCode: GrpcCode.INVALID_ARGUMENT,
    retriable: false,
    description:
      'The id was published but has expired (its own expiration or the subject retention) or was removed by compaction.',
    exitCode: 1,
  },
  MESSAGE_TOO_LARGE: {
    grpcCode: GrpcCode.RESOURCE_EXHAUSTED,
    retriable: false,
    description: 'The message body is larger than BROKER_MAX_BODY_BYTES.',
    exitCode: 1,
  },
  SUBJECT_LIMIT: {
    grpcCode: GrpcCode.RESOURCE_EXHAUSTED,
    retriable: false,
    description:
      'A publish to a new subject was refused: the broker already holds BROKER_MAX_SUBJECTS subjects (a subject is never forgotten, so its ids are never reused). Publishes to existing subjects go on. Nothing was appended.',
    exitCode: 1,
  },
  SUBJECT_NOT_FOUND: {
    grpcCode: GrpcCode.NOT_FOUND,
    retriable: false,
    description: 'GetSubject named a subject that has never been published to.',
    exitCode: 1,
  },
  UNAVAILABLE: {
    grpcCode: GrpcCode.UNAVAILABLE,
    retriable: true,
    description:
      'The broker is shutting down or a storage tier it needs is unreachable; retry against this or another broker.',
    exitCode: 1,
  },
  OVERLOADED: {
    grpcCode: GrpcCode.RESOURCE_EXHAUSTED,
    retriable: true,
    description: 'A resource limit was reached (for example too many subscribers); retry later.',
    exitCode: 1,
  },
  STORAGE_FULL: {
    grpcCode: GrpcCode.RESOURCE_EXHAUSTED,
    retriable: true,
    description:
      'A storage limit refused the publish before the disk ran out: BROKER_MAX_SUBJECT_BYTES, BROKER_MAX_TOTAL_BYTES (with BROKER_DISCARD=refuse, or nothing sealed left to drop) or the free-space floor BROKER_MIN_FREE_BYTES; the message names the limit. Nothing was appended; retry once compaction or an operator has freed space.',
    exitCode: 1,
  },
  SLOW_CONSUMER: {
    grpcCode: GrpcCode.RESOURCE_EXHAUSTED,
    retriable: true,
    description:
      'A Subscribe stream was ended because the bytes queued to subscribers passed BROKER_SUBSCRIBER_BUFFER_BYTES and it had the most queued; the message names the last id delivered: resubscribe with from_id = that + 1, nothing is lost. If its client does not read what was queued to it before that room is needed, the stream is reset instead (RST_STREAM ENHANCE_YOUR_CALM: RESOURCE_EXHAUSTED with no reason); resubscribe from the last id received + 1.',
    exitCode: 1,
  },
  INTERNAL: {
    grpcCode: GrpcCode.INTERNAL,
    retriable: false,
    description:
      'An unexpected failure inside the broker (a broken invariant); the message carries only a correlation id, and the broker log holds the detail under it. Nothing was acknowledged.',
    exitCode: 1,
  },
  DATA_LOSS: {
    grpcCode: GrpcCode.DATA_LOSS,
    retriable: false,
    description:
      'The id was acknowledged but its record is damaged (checksum mismatch) or was lost from the local disk; it is never served wrong or reported as expired.',
    exitCode: 4,
  },
  INVALID_CONFIG: {
    grpcCode: GrpcCode.FAILED_PRECONDITION,
    retriable: false,
    description:
      'A setting (environment variable or CLI flag) is missing, malformed or contradicts another; the broker does not start.',
    exitCode: 2,
  },
  STORAGE_UNREADABLE: {
    grpcCode: GrpcCode.FAILED_PRECONDITION,
    retriable: false,
    description:
      "The log's data directory cannot be opened: LevelDB refused it (a missing or damaged file, a lock held by another process); the message names the file and LevelDB's own message.",
    exitCode: 3,
  },
  NOT_OWNER: {
    grpcCode: GrpcCode.FAILED_PRECONDITION,
    retriable: true,
    description:
      "A forwarded call reached a worker (or broker) that does not own the partition of its subject; the metadata names the partition and the owner it believes. Forwarders retry at that owner; clients never see it unless they call a worker's internal socket directly.",
    exitCode: 1,
  },
  UNAUTHENTICATED: {
    grpcCode: GrpcCode.UNAUTHENTICATED,
    retriable: false,
    description:
      'The call carries no credentials, or wrong ones: a call marked as forwarded by another broker (or for broker.internal.Forwarding) without the cluster token (BROKER_CLUSTER_TOKEN), or a plaintext call to a broker that requires TLS. The message says which.',
    exitCode: 1,
  },
  UNSUPPORTED_FORMAT: {
    grpcCode: GrpcCode.FAILED_PRECONDITION,
    retriable: false,
    description:
      'The data directory was written in a storage format version this broker does not know; it is refused at open, untouched.',
    exitCode: 3,
  },
  NOT_AUTHORIZED: {
    grpcCode: GrpcCode.PERMISSION_DENIED,
    retriable: false,
    description:
      "The caller's identity (BROKER_AUTH_FILE) may not do this operation (publish, subscribe or admin) on this subject: no allow rule matches it, or a deny rule does. The message and metadata name the identity, the operation and the subject.",
    exitCode: 1,
  },
  QUOTA_EXCEEDED: {
    grpcCode: GrpcCode.RESOURCE_EXHAUSTED,
    retriable: true,
    description:
      "The caller's identity is above its publish quota (messages/s or bytes/s in BROKER_AUTH_FILE); nothing was appended. google.rpc.RetryInfo says how long to wait before the same request fits.",
    exitCode: 1,
  },
} as const satisfies Record<string, ReasonSpec>;

export type Reason = keyof typeof REASONS;

export function isReason(reason: string): reason is Reason {
  return Object.hasOwn(REASONS, reason);
}

/** The CLI's exit code for a reason; a reason this build does not know (from a newer server, say) exits 1. */
export function exitCodeOf(reason: string): number {
  return isReason(reason) ? REASONS[reason].exitCode : 1;
}
