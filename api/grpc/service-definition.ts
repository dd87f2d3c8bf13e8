import type { handleServerStreamingCall } from '@grpc/grpc-js';
import type { LogRecord } from '../../core/index.js';
import {
  BrokerService as Generated,
  FetchRangeRequest,
  FetchRequest,
  MessageResponse,
  SubscribeRequest,
  type BrokerServer,
} from '../../proto/gen/broker.js';
import { frame } from './framed-writes.js';
import { safeDecoder } from './safe-decoder.js';
import {
  decodeFetchRequest,
  decodePublishBatchRequest,
  decodePublishRequest,
  decodeSubscribeRequest,
  encodeMessageResponse,
  encodePublishBatchResponse,
  encodePublishResponse,
} from './wire-codecs.js';

/**
 * The generated broker.Broker definition, except:
 * - Subscribe also takes messages that are already encoded. A record delivered to a thousand subscribers is then
 *   encoded once, not a thousand times: encoding was an eighth of the broker's CPU in a 1,000-subscriber fan-out
 *   profile.
 * - The requests that carry an id decode through safeDecoder, so an id beyond 2^53 is INVALID_ARGUMENT naming the
 *   field, not INTERNAL from grpc-js.
 * - The messages of Publish, PublishStream, PublishBatch, Fetch and Subscribe go through the hand-made codecs of
 *   wire-codecs.ts (the same bytes and objects as ts-proto's, for a fraction of the CPU).
 */
export const brokerServiceDefinition = {
  ...Generated,
  publish: {
    ...Generated.publish,
    requestDeserialize: decodePublishRequest,
    responseSerialize: encodePublishResponse,
  },
  publishStream: {
    ...Generated.publishStream,
    requestDeserialize: decodePublishRequest,
    responseSerialize: encodePublishResponse,
  },
  publishBatch: {
    ...Generated.publishBatch,
    requestDeserialize: decodePublishBatchRequest,
    responseSerialize: encodePublishBatchResponse,
  },
  fetch: {
    ...Generated.fetch,
    requestDeserialize: safeDecoder(
      { decode: decodeFetchRequest, create: FetchRequest.create },
      'broker.FetchRequest',
      { 2: 'id' },
    ),
    responseSerialize: encodeMessageResponse,
  },
  fetchRange: {
    ...Generated.fetchRange,
    requestDeserialize: safeDecoder(FetchRangeRequest, 'broker.FetchRangeRequest', { 2: 'from_id' }),
  },
  subscribe: {
    ...Generated.subscribe,
    requestDeserialize: safeDecoder(
      { decode: decodeSubscribeRequest, create: SubscribeRequest.create },
      'broker.SubscribeRequest',
      { 2: 'from_id' },
    ),
    responseSerialize: (value: MessageResponse | Buffer): Buffer =>
      Buffer.isBuffer(value) ? value : encodeMessageResponse(value),
  },
} as const;

/** The handlers for brokerServiceDefinition: Subscribe may write encoded messages. */
export type BrokerHandlers = Pick<
  BrokerServer,
  'publish' | 'publishBatch' | 'publishStream' | 'fetch' | 'fetchRange' | 'listSubjects' | 'getSubject'
> & {
  subscribe: handleServerStreamingCall<SubscribeRequest, MessageResponse | Buffer>;
};

/**
 * MessageResponse bytes per record with their gRPC length prefix (Subscribe writes them to the HTTP/2 stream as they
 * are: framed-writes.ts), kept as long as the record object lives. Subscribers near the head read the same record
 * objects from the subject's shared tail cache, so they share one framed encoding. Only for shared records: a batch
 * read from disk for one lagging subscriber would fill the WeakMap with entries nobody else reads.
 */
export class EncodedMessages {
  private readonly encoded = new WeakMap<LogRecord, Buffer>();

  framed(record: LogRecord): Buffer {
    let bytes = this.encoded.get(record);
    if (bytes === undefined) {
      bytes = frameMessage(record);
      this.encoded.set(record, bytes);
    }
    return bytes;
  }
}

/** One record as framed MessageResponse bytes (length prefix included), as Subscribe writes them. */
export function frameMessage(record: LogRecord): Buffer {
  return frame(encodeMessage(record));
}

/** One record as MessageResponse bytes, as Subscribe writes them. */
export function encodeMessage(record: LogRecord): Buffer {
  return encodeMessageResponse(toMessage(record));
}

export function toMessage(record: LogRecord): MessageResponse {
  return {
    body: asBuffer(record.body),
    id: record.offset,
    subject: record.subject,
    publishedAtMs: record.publishedAtMs,
    expirationSeconds: record.expirationSeconds,
  };
}

/** A Buffer view of the same bytes (grpc-js wants a Buffer; Buffer.from(Uint8Array) would copy). */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
