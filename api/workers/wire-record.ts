import type { LogRecord } from '../../core/index.js';
import type { MessageResponse } from '../../proto/gen/broker.js';

/**
 * A message another worker delivered, as the record its log holds: every LogRecord field is on the wire (id is the
 * offset; expiration_seconds is the one given at publish time, not the time left, so read-time expiry here judges
 * it as the owner does). The body stays a view of the received message's own buffer (grpc-js decodes each message
 * from a buffer of its own), so a cached record holds its message's bytes and no more.
 */
export function toLogRecord(message: MessageResponse): LogRecord {
  return {
    subject: message.subject,
    offset: message.id,
    body: message.body,
    publishedAtMs: message.publishedAtMs,
    expirationSeconds: message.expirationSeconds,
  };
}
