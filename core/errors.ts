/**
 * The broker's errors. Every failure the broker reports has a stable reason code, kept in one table with its gRPC
 * status and retry policy (REASONS, in reasons.ts); docs/errors.md documents the same table and a test keeps the two in step.
 * The gRPC edge maps a BrokerError to a status by its reason, so a domain error never surfaces as UNKNOWN.
 */

import { REASONS, type GrpcCode, type Reason } from './reasons.js';

export * from './reasons.js';

/** The base of every error the broker raises on purpose. */
export class BrokerError extends Error {
  readonly reason: Reason;
  readonly retriable: boolean;
  readonly grpcCode: GrpcCode;
  /** Structured fields for google.rpc.ErrorInfo metadata and logs (values are strings on the wire). */
  readonly metadata: Readonly<Record<string, string>>;

  constructor(reason: Reason, message: string, options: { cause?: unknown; metadata?: Record<string, string> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BrokerError';
    this.reason = reason;
    this.retriable = REASONS[reason].retriable;
    this.grpcCode = REASONS[reason].grpcCode;
    this.metadata = options.metadata ?? {};
  }
}

export class InvalidArgumentError extends BrokerError {
  readonly field: string;
  constructor(field: string, message: string, options: { cause?: unknown } = {}) {
    super('INVALID_ARGUMENT', message, { ...options, metadata: { field } });
    this.name = 'InvalidArgumentError';
    this.field = field;
  }
}

export class InvalidIdError extends BrokerError {
  readonly subject: string;
  readonly id: number;
  constructor(subject: string, id: number, detail: string) {
    super('INVALID_ID', `id ${id} was never published on subject "${subject}": ${detail}`, {
      metadata: { subject, id: String(id) },
    });
    this.name = 'InvalidIdError';
    this.subject = subject;
    this.id = id;
  }
}

export class ExpiredIdError extends BrokerError {
  readonly subject: string;
  readonly id: number;
  constructor(subject: string, id: number, detail: string) {
    super('EXPIRED_ID', `id ${id} on subject "${subject}" has expired: ${detail}`, {
      metadata: { subject, id: String(id) },
    });
    this.name = 'ExpiredIdError';
    this.subject = subject;
    this.id = id;
  }
}

/** An acknowledged record that cannot be served as it was written: damaged on disk, or lost with a damaged file. */
export class DataLossError extends BrokerError {
  readonly subject: string;
  readonly id: number;
  constructor(subject: string, id: number, detail: string) {
    super('DATA_LOSS', `id ${id} on subject "${subject}" was acknowledged but is lost: ${detail}`, {
      metadata: { subject, id: String(id) },
    });
    this.name = 'DataLossError';
    this.subject = subject;
    this.id = id;
  }
}

export class MessageTooLargeError extends BrokerError {
  readonly size: number;
  readonly limit: number;
  constructor(size: number, limit: number) {
    super('MESSAGE_TOO_LARGE', `body is ${size} bytes, over the limit of ${limit} bytes (BROKER_MAX_BODY_BYTES)`, {
      metadata: { size: String(size), limit: String(limit) },
    });
    this.name = 'MessageTooLargeError';
    this.size = size;
    this.limit = limit;
  }
}

/** A publish that would create a subject beyond BROKER_MAX_SUBJECTS; existing subjects are not affected. */
export class SubjectLimitError extends BrokerError {
  readonly subject: string;
  readonly limit: number;
  constructor(subject: string, limit: number) {
    super(
      'SUBJECT_LIMIT',
      `cannot create subject "${subject}": the broker holds ${limit} subjects, the limit (BROKER_MAX_SUBJECTS); publish to an existing subject`,
      { metadata: { subject, limit: String(limit) } },
    );
    this.name = 'SubjectLimitError';
    this.subject = subject;
    this.limit = limit;
  }
}

export class SubjectNotFoundError extends BrokerError {
  readonly subject: string;
  constructor(subject: string) {
    super('SUBJECT_NOT_FOUND', `subject "${subject}" has never been published to`, { metadata: { subject } });
    this.name = 'SubjectNotFoundError';
    this.subject = subject;
  }
}

export class UnavailableError extends BrokerError {
  constructor(message: string, options: { cause?: unknown; metadata?: Record<string, string> } = {}) {
    super('UNAVAILABLE', message, options);
    this.name = 'UnavailableError';
  }
}

/** A call for a partition this worker does not own (a stale or forced route); the forwarder retries at `owner`. */
export class NotOwnerError extends BrokerError {
  readonly partition: number;
  readonly owner: string;
  constructor(subject: string, partition: number, owner: string) {
    super('NOT_OWNER', `subject "${subject}" is in partition ${partition}, owned by ${owner}, not by this worker`, {
      metadata: { subject, partition: String(partition), owner },
    });
    this.name = 'NotOwnerError';
    this.partition = partition;
    this.owner = owner;
  }
}

/**
 * A write for a partition made under a lease epoch below the partition's fence (IdReservations.fence): a newer owner
 * has taken the partition since, so this one is stale (paused past its lease, or its clock beyond the drift bound)
 * and its write is refused whole, nothing of it applied. NOT_OWNER, like a call refused by the lease: the appends it
 * carried were never acknowledged, and a forwarder retries them at the new owner.
 */
export class FencedError extends BrokerError {
  readonly partition: number;
  readonly epoch: number;
  readonly fence: number;
  constructor(partition: number, epoch: number, fence: number) {
    super(
      'NOT_OWNER',
      `partition ${partition} was taken over at epoch ${fence}; a write made under epoch ${epoch} is refused (fenced)`,
      { metadata: { partition: String(partition), epoch: String(epoch), fence: String(fence) } },
    );
    this.name = 'FencedError';
    this.partition = partition;
    this.epoch = epoch;
    this.fence = fence;
  }
}

/** A call without the credentials the broker requires (what is missing is in the message and `metadata.missing`). */
export class UnauthenticatedError extends BrokerError {
  constructor(message: string, options: { cause?: unknown; metadata?: Record<string, string> } = {}) {
    super('UNAUTHENTICATED', message, options);
    this.name = 'UnauthenticatedError';
  }
}

/** The caller's identity may not do `operation` on `subject` (its rules in BROKER_AUTH_FILE). */
export class NotAuthorizedError extends BrokerError {
  readonly identity: string;
  readonly operation: string;
  readonly subject: string;
  constructor(identity: string, operation: string, subject: string) {
    super('NOT_AUTHORIZED', `identity "${identity}" may not ${operation} on subject "${subject}"`, {
      metadata: { identity, operation, subject },
    });
    this.name = 'NotAuthorizedError';
    this.identity = identity;
    this.operation = operation;
    this.subject = subject;
  }
}

/** The caller's identity is above a rate quota; the same request fits after `retryAfterMs`. */
export class QuotaExceededError extends BrokerError {
  readonly identity: string;
  readonly retryAfterMs: number;
  constructor(identity: string, quota: string, retryAfterMs: number) {
    super('QUOTA_EXCEEDED', `identity "${identity}" is above its ${quota} quota; retry in ${retryAfterMs} ms`, {
      metadata: { identity, quota, retryAfterMs: String(retryAfterMs) },
    });
    this.name = 'QuotaExceededError';
    this.identity = identity;
    this.retryAfterMs = retryAfterMs;
  }
}

export class OverloadedError extends BrokerError {
  constructor(message: string) {
    super('OVERLOADED', message);
    this.name = 'OverloadedError';
  }
}

/**
 * A publish refused by a storage limit before the disk ran out: a per-subject or total size limit, or the free-space
 * floor. `limit` names the setting, `bytes` what is stored (or free) and `allowed` the limit, so a client can tell which.
 */
export class StorageFullError extends BrokerError {
  readonly limit: string;
  readonly bytes: number;
  readonly allowed: number;
  constructor(limit: string, bytes: number, allowed: number, detail: string) {
    super('STORAGE_FULL', `storage full: ${detail} (${limit} = ${allowed})`, {
      metadata: { limit, bytes: String(bytes), allowed: String(allowed) },
    });
    this.name = 'StorageFullError';
    this.limit = limit;
    this.bytes = bytes;
    this.allowed = allowed;
  }
}

/**
 * A subscriber ended because the bytes queued to subscribers passed their budget and it had the most queued. Every
 * message up to `lastDeliveredId` was written to its stream before the status, so from_id = lastDeliveredId + 1
 * resumes it with no gap and no duplicate (0: nothing was delivered; resume from where it started).
 */
export class SlowConsumerError extends BrokerError {
  readonly subject: string;
  readonly lastDeliveredId: number;
  constructor(subject: string, lastDeliveredId: number, queuedBytes: number, budget: number) {
    super(
      'SLOW_CONSUMER',
      `subscriber to "${subject}" ended as the slowest: ${queuedBytes} bytes queued to it while subscribers' queued bytes passed BROKER_SUBSCRIBER_BUFFER_BYTES = ${budget}; last delivered id ${lastDeliveredId}, resubscribe with from_id ${lastDeliveredId + 1}`,
      {
        metadata: {
          subject,
          lastDeliveredId: String(lastDeliveredId),
          queuedBytes: String(queuedBytes),
          limit: String(budget),
        },
      },
    );
    this.name = 'SlowConsumerError';
    this.subject = subject;
    this.lastDeliveredId = lastDeliveredId;
  }
}

/** Raised when configuration is missing, malformed or contradictory; names the variable and the rule. */
export class ConfigError extends BrokerError {
  readonly variable: string;
  constructor(variable: string, message: string, options: { cause?: unknown } = {}) {
    super('INVALID_CONFIG', `${variable}: ${message}`, { ...options, metadata: { variable } });
    this.name = 'ConfigError';
    this.variable = variable;
  }
}

/** A broken invariant: a caller inside the broker asked for something its contract rules out (a bug, not bad input). */
export class InvariantError extends BrokerError {
  constructor(message: string, options: { cause?: unknown; metadata?: Record<string, string> } = {}) {
    super('INTERNAL', message, options);
    this.name = 'InvariantError';
  }
}

/** A segment operation that needs a sealed segment (delete, mark replicated) was asked of an active one. */
export class SegmentNotSealedError extends InvariantError {
  readonly subject: string;
  readonly baseOffset: number;
  constructor(subject: string, baseOffset: number) {
    super(`segment ${subject}@${baseOffset} is not sealed`, { metadata: { subject, baseOffset: String(baseOffset) } });
    this.name = 'SegmentNotSealedError';
    this.subject = subject;
    this.baseOffset = baseOffset;
  }
}

/** The data directory holds a storage format version this build does not know. */
export class UnsupportedFormatError extends BrokerError {
  readonly found: string;
  readonly supported: string;
  constructor(dataDir: string, found: string, supported: string) {
    super(
      'UNSUPPORTED_FORMAT',
      `${dataDir} is in storage format version ${found}; this broker reads version ${supported}`,
      {
        metadata: { dataDir, found, supported },
      },
    );
    this.name = 'UnsupportedFormatError';
    this.found = found;
    this.supported = supported;
  }
}

/** The data directory could not be opened as a log; the cause is LevelDB's (or the file system's) own error. */
export class StorageOpenError extends BrokerError {
  readonly dataDir: string;
  constructor(dataDir: string, cause: unknown) {
    const why = cause instanceof Error ? describeCause(cause) : String(cause);
    super('STORAGE_UNREADABLE', `cannot open the log in ${dataDir}: ${why}`, { cause, metadata: { dataDir } });
    this.name = 'StorageOpenError';
    this.dataDir = dataDir;
  }
}

/** LevelDB's open error says only "Database failed to open"; the reason (which file, which lock) is its cause. */
function describeCause(err: Error): string {
  const inner = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${err.message}${inner}`;
}
