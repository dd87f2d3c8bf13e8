import {
  FetchRequest,
  MessageResponse,
  PublishBatchRequest,
  PublishBatchResponse,
  PublishRequest,
  PublishResponse,
  SubscribeRequest,
} from '../../proto/gen/broker.js';

/**
 * Hand-made (de)serializers for the messages on the hot path, given to grpc-js in the service definition. ts-proto's
 * encode builds a BinaryWriter (a chunk list, then finish() and the service's Buffer.from copy) and its decode sets up
 * a reader, a recursion counter and a copy of every body: together a large share of the CPU a message costs.
 *
 * Each function here reads or writes the plain form the broker's clients send and the broker answers with, and
 * returns ts-proto's own result for anything else (a negative int32, an id past 2^49, a group, a truncated field): so every result is exactly ts-proto's, which wire-codecs.test.ts checks on random
 * messages, unknown fields included. A decoded body is a view of the bytes grpc-js received for that one message,
 * not a copy.
 */

/** Where a decoder is in the bytes of one message (or of one nested message: `end` is its end). */
interface Cursor {
  readonly buf: Buffer;
  pos: number;
  readonly end: number;
}

/** The fast path gives up: the caller answers with ts-proto's decode. */
const UNUSUAL = -1;

/** A varint of at most 7 bytes (values below 2^49); UNUSUAL when longer or cut short. */
function varint(c: Cursor): number {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 7 && c.pos < c.end; i++) {
    const b = c.buf[c.pos++];
    if (b === undefined) return UNUSUAL;
    value += (b & 0x7f) * scale;
    if (b < 0x80) return value;
    scale *= 128;
  }
  return UNUSUAL;
}

/** The end of a length-delimited field starting at the cursor (its length read), or UNUSUAL past the end. */
function delimited(c: Cursor): number {
  const len = varint(c);
  if (len === UNUSUAL || c.pos + len > c.end) return UNUSUAL;
  return c.pos + len;
}

/** Text as ts-proto decodes it (both decoders substitute U+FFFD for bytes that are not UTF-8 the WHATWG way). */
function text(c: Cursor): string | undefined {
  const end = delimited(c);
  if (end === UNUSUAL) return undefined;
  const s = c.buf.toString('utf8', c.pos, end);
  c.pos = end;
  return s;
}

/** An int32 field as ts-proto reads it, when not negative; else UNUSUAL. */
function int32(c: Cursor): number {
  const v = varint(c);
  return v > 0x7fffffff ? UNUSUAL : v;
}

/** Skips a field the message does not know (as ts-proto does); false for groups and anything cut short. */
function skip(c: Cursor, wireType: number): boolean {
  switch (wireType) {
    case 0:
      return varint(c) !== UNUSUAL;
    case 1:
      c.pos += 8;
      return c.pos <= c.end;
    case 2: {
      const end = delimited(c);
      c.pos = end;
      return end !== UNUSUAL;
    }
    case 5:
      c.pos += 4;
      return c.pos <= c.end;
    default:
      return false;
  }
}

/**
 * The next field's tag, or UNUSUAL where ts-proto's loop would stop or throw (tag 0, an end-group tag, a tag past
 * 2^28), so the caller hands the message to ts-proto.
 */
function tag(c: Cursor): number {
  const t = varint(c);
  if (t === UNUSUAL || t === 0 || t >= 2 ** 28 || (t & 7) === 4) return UNUSUAL;
  return t;
}

/** One PublishRequest between c.pos and c.end, or undefined where ts-proto must decide. */
function publishRequestAt(c: Cursor): PublishRequest | undefined {
  const message: PublishRequest = {
    subject: '',
    body: EMPTY,
    expirationSeconds: 0,
    idempotencyKey: undefined,
  };
  while (c.pos < c.end) {
    const t = tag(c);
    if (t === 10) {
      const s = text(c);
      if (s === undefined) return undefined;
      message.subject = s;
    } else if (t === 18) {
      const end = delimited(c);
      if (end === UNUSUAL) return undefined;
      message.body = c.buf.subarray(c.pos, end);
      c.pos = end;
    } else if (t === 24) {
      const v = int32(c);
      if (v === UNUSUAL) return undefined;
      message.expirationSeconds = v;
    } else if (t === 34) {
      const s = text(c);
      if (s === undefined) return undefined;
      message.idempotencyKey = s;
    } else if (t === UNUSUAL || t >>> 3 <= 4 || !skip(c, t & 7)) {
      // A known field with another wire type: ts-proto skips it; rare enough to leave to it.
      return undefined;
    }
  }
  if (message.body === EMPTY) message.body = Buffer.alloc(0);
  return message;
}

/** Marks a body not (yet) read: every request gets its own empty body, as from ts-proto. */
const EMPTY = Buffer.alloc(0);

export function decodePublishRequest(buf: Buffer): PublishRequest {
  return publishRequestAt({ buf, pos: 0, end: buf.length }) ?? PublishRequest.decode(buf);
}

export function decodePublishBatchRequest(buf: Buffer): PublishBatchRequest {
  const c: Cursor = { buf, pos: 0, end: buf.length };
  const messages: PublishRequest[] = [];
  while (c.pos < c.end) {
    const t = tag(c);
    const end = t === 10 ? delimited(c) : UNUSUAL;
    if (end === UNUSUAL) return PublishBatchRequest.decode(buf);
    const message = publishRequestAt({ buf, pos: c.pos, end });
    if (message === undefined) return PublishBatchRequest.decode(buf);
    messages.push(message);
    c.pos = end;
  }
  return { messages };
}

/** SubscribeRequest and FetchRequest: a subject (1) and an int64 id (2). */
function subjectAndId(buf: Buffer): { subject: string; id: number } | undefined {
  const c: Cursor = { buf, pos: 0, end: buf.length };
  let subject = '';
  let id = 0;
  while (c.pos < c.end) {
    const t = tag(c);
    if (t === 10) {
      const s = text(c);
      if (s === undefined) return undefined;
      subject = s;
    } else if (t === 16) {
      id = varint(c);
      if (id === UNUSUAL) return undefined;
    } else if (t === UNUSUAL || t >>> 3 <= 2 || !skip(c, t & 7)) {
      return undefined;
    }
  }
  return { subject, id };
}

export function decodeSubscribeRequest(buf: Buffer): SubscribeRequest {
  const r = subjectAndId(buf);
  return r === undefined ? SubscribeRequest.decode(buf) : { subject: r.subject, fromId: r.id };
}

export function decodeFetchRequest(buf: Buffer): FetchRequest {
  return subjectAndId(buf) ?? FetchRequest.decode(buf);
}

/** Bytes of a varint holding v (a safe integer ≥ 0). */
function varintSize(v: number): number {
  let size = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    size += 1;
  }
  return size;
}

function writeVarint(out: Buffer, pos: number, v: number): number {
  while (v >= 128) {
    out[pos++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  out[pos++] = v;
  return pos;
}

/** A number the fast writers encode: a safe integer ≥ 0 (ts-proto writes the others, e.g. negatives in 10 bytes). */
function plain(v: number): boolean {
  return Number.isSafeInteger(v) && v >= 0;
}

export function encodePublishResponse(message: PublishResponse): Buffer {
  const { id } = message;
  if (!plain(id)) return Buffer.from(PublishResponse.encode(message).finish());
  if (id === 0) return Buffer.alloc(0);
  const out = Buffer.allocUnsafe(1 + varintSize(id));
  out[0] = 8;
  writeVarint(out, 1, id);
  return out;
}

export function encodePublishBatchResponse(message: PublishBatchResponse): Buffer {
  const { ids } = message;
  let len = 0;
  for (const id of ids) {
    if (!plain(id)) return Buffer.from(PublishBatchResponse.encode(message).finish());
    len += varintSize(id);
  }
  if (ids.length === 0) return Buffer.alloc(0);
  const out = Buffer.allocUnsafe(1 + varintSize(len) + len);
  out[0] = 10;
  let pos = writeVarint(out, 1, len);
  for (const id of ids) pos = writeVarint(out, pos, id);
  return out;
}

export function encodeMessageResponse(message: MessageResponse): Buffer {
  const { body, id, subject, publishedAtMs, expirationSeconds } = message;
  if (!plain(id) || !plain(publishedAtMs) || !plain(expirationSeconds) || expirationSeconds > 0x7fffffff) {
    return Buffer.from(MessageResponse.encode(message).finish());
  }
  const subjectBytes = subject === '' ? 0 : Buffer.byteLength(subject, 'utf8');
  let size = body.length === 0 ? 0 : 1 + varintSize(body.length) + body.length;
  if (id !== 0) size += 1 + varintSize(id);
  if (subjectBytes !== 0) size += 1 + varintSize(subjectBytes) + subjectBytes;
  if (publishedAtMs !== 0) size += 1 + varintSize(publishedAtMs);
  if (expirationSeconds !== 0) size += 1 + varintSize(expirationSeconds);
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  if (body.length !== 0) {
    out[pos++] = 10;
    pos = writeVarint(out, pos, body.length);
    out.set(body, pos);
    pos += body.length;
  }
  if (id !== 0) {
    out[pos++] = 16;
    pos = writeVarint(out, pos, id);
  }
  if (subjectBytes !== 0) {
    out[pos++] = 26;
    pos = writeVarint(out, pos, subjectBytes);
    pos += out.write(subject, pos, 'utf8');
  }
  if (publishedAtMs !== 0) {
    out[pos++] = 32;
    pos = writeVarint(out, pos, publishedAtMs);
  }
  if (expirationSeconds !== 0) {
    out[pos++] = 40;
    writeVarint(out, pos, expirationSeconds);
  }
  return out;
}
