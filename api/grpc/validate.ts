import {
  BrokerError,
  InvalidArgumentError,
  MessageTooLargeError,
  validateSubject,
  type AppendInput,
} from '../../core/index.js';
import type {
  FetchRangeRequest,
  FetchRequest,
  GetSubjectRequest,
  PublishBatchRequest,
  PublishRequest,
  SubscribeRequest,
} from '../../proto/gen/broker.js';
import { rejectUndecodable } from './safe-decoder.js';

/** One guard per entry point: each checks a request completely before any work is done. */
export class RequestGuard {
  /** maxResponseBytes: BROKER_MAX_RESPONSE_BYTES, the cap on a FetchRange page whatever max_bytes asks for. */
  constructor(
    private readonly maxBodyBytes: number,
    readonly maxResponseBytes: number = DEFAULT_PAGE_BYTES,
  ) {}

  publish(req: PublishRequest): AppendInput {
    const subject = validateSubject(req.subject);
    if (req.expirationSeconds < 0) {
      throw new InvalidArgumentError(
        'expirationSeconds',
        `expirationSeconds must be >= 0 (0 = the subject retention), got ${req.expirationSeconds}`,
      );
    }
    if (req.body.length > this.maxBodyBytes) throw new MessageTooLargeError(req.body.length, this.maxBodyBytes);
    const key = req.idempotencyKey;
    if (key === undefined || key === '') return { subject, body: req.body, expirationSeconds: req.expirationSeconds };
    return { subject, body: req.body, expirationSeconds: req.expirationSeconds, key: validateIdempotencyKey(key) };
  }

  /** Every message of a batch, checked before any is appended; an error names the message's index. */
  publishBatch(req: PublishBatchRequest): AppendInput[] {
    const count = req.messages.length;
    if (count === 0) throw new InvalidArgumentError('messages', 'a batch needs at least one message');
    if (count > MAX_BATCH_MESSAGES)
      throw new InvalidArgumentError('messages', `a batch holds at most ${MAX_BATCH_MESSAGES} messages, got ${count}`);
    return req.messages.map((message, i) => {
      try {
        return this.publish(message);
      } catch (err) {
        if (err instanceof BrokerError) err.message = `messages[${i}]: ${err.message}`;
        throw err;
      }
    });
  }

  fetch(req: FetchRequest): { subject: string; id: number } {
    rejectUndecodable(req);
    return { subject: validateSubject(req.subject), id: req.id };
  }

  getSubject(req: GetSubjectRequest): { subject: string } {
    return { subject: validateSubject(req.subject) };
  }

  subscribe(req: SubscribeRequest): { subject: string; from: number | 'live' } {
    rejectUndecodable(req);
    const subject = validateSubject(req.subject);
    if (req.fromId < 0)
      throw new InvalidArgumentError('from_id', `from_id must be >= 0 (0 = live only), got ${req.fromId}`);
    return { subject, from: req.fromId === 0 ? 'live' : req.fromId };
  }

  fetchRange(req: FetchRangeRequest): { subject: string; from: number; maxRecords: number; maxBytes: number } {
    rejectUndecodable(req);
    const subject = validateSubject(req.subject);
    if (req.fromId < 1) throw new InvalidArgumentError('from_id', `from_id must be >= 1, got ${req.fromId}`);
    if (req.maxMessages < 0 || req.maxMessages > MAX_PAGE_MESSAGES) {
      throw new InvalidArgumentError(
        'max_messages',
        `max_messages must be between 0 and ${MAX_PAGE_MESSAGES}, got ${req.maxMessages}`,
      );
    }
    if (req.maxBytes < 0) throw new InvalidArgumentError('max_bytes', `max_bytes must be >= 0, got ${req.maxBytes}`);
    return {
      subject,
      from: req.fromId,
      maxRecords: req.maxMessages === 0 ? DEFAULT_PAGE_MESSAGES : req.maxMessages,
      // Clamped, not refused: the page says through next_id where it stopped, so a client pages on.
      maxBytes: Math.min(req.maxBytes === 0 ? DEFAULT_PAGE_BYTES : req.maxBytes, this.maxResponseBytes),
    };
  }

  listSubjects(
    prefix: string,
    pageSize: number,
    pageToken: string,
  ): { prefix: string; limit: number; after: string | undefined } {
    if (prefix !== '') validateSubject(prefix, 'prefix');
    if (pageSize < 0 || pageSize > MAX_SUBJECT_PAGE) {
      throw new InvalidArgumentError(
        'page_size',
        `page_size must be between 0 and ${MAX_SUBJECT_PAGE}, got ${pageSize}`,
      );
    }
    let after: string | undefined;
    if (pageToken !== '') {
      after = Buffer.from(pageToken, 'base64url').toString('utf8');
      if (after === '' || Buffer.from(after, 'utf8').toString('base64url') !== pageToken) {
        throw new InvalidArgumentError('page_token', 'page_token is not one this broker issued');
      }
    }
    return { prefix, limit: pageSize === 0 ? DEFAULT_SUBJECT_PAGE : pageSize, after };
  }
}

export const MAX_IDEMPOTENCY_KEY_BYTES = 128;

/** A key is stored in a LevelDB key after the subject: bounded, and printable so logs and tools show it as it is. */
function validateIdempotencyKey(key: string): string {
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_IDEMPOTENCY_KEY_BYTES) {
    throw new InvalidArgumentError(
      'idempotency_key',
      `idempotency_key must be at most ${MAX_IDEMPOTENCY_KEY_BYTES} bytes of UTF-8, got ${bytes}`,
    );
  }
  // Control characters (C0, DEL, C1) and lone surrogates: not printable, and a lone surrogate has no UTF-8 form.
  if (hasControlCharacter(key) || !key.isWellFormed()) {
    throw new InvalidArgumentError('idempotency_key', 'idempotency_key must be printable: no control characters');
  }
  return key;
}

/** C0 controls, DEL and C1 controls (a loop rather than a regex of control characters, which lint rejects). */
function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return true;
  }
  return false;
}

export const MAX_BATCH_MESSAGES = 10_000;
export const DEFAULT_PAGE_MESSAGES = 100;
export const MAX_PAGE_MESSAGES = 10_000;
export const DEFAULT_PAGE_BYTES = 4 * 1024 * 1024;
export const DEFAULT_SUBJECT_PAGE = 100;
export const MAX_SUBJECT_PAGE = 1000;

export function pageToken(lastSubject: string): string {
  return Buffer.from(lastSubject, 'utf8').toString('base64url');
}
